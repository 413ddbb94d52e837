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
        from treasury.fx.services import wise_client_factory_register

        # Wise's mid-market rates are one of the FX sources; they need a connection.
        wise_client_factory_register(_wise_rates_client)
