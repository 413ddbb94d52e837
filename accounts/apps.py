from django.apps import AppConfig


def _wise_rates_client():  # type: ignore[no-untyped-def]
    """A client of the first Wise connection, for the FX rates fetcher; None if none."""
    from accounts.models import WiseConnection
    from accounts.wise.sync import wise_client_for

    connection = WiseConnection.objects.order_by("pk").first()
    return None if connection is None else wise_client_for(connection)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Money held"

    def ready(self) -> None:
        from accounts.models import SyncRun
        from accounts.runs import run_requeue_register
        from accounts.wise.services import wise_run_requeue
        from treasury.fx.services import rates_fetch_requeue, wise_client_factory_register

        # Wise's mid-market rates are one of the FX sources; they need a connection.
        wise_client_factory_register(_wise_rates_client)
        # What the runs sweep queues again after a killed process (accounts.runs).
        run_requeue_register(SyncRun.Kind.WISE_BALANCES, wise_run_requeue)
        run_requeue_register(SyncRun.Kind.WISE_STATEMENTS, wise_run_requeue)
        run_requeue_register(SyncRun.Kind.RATES, rates_fetch_requeue)
