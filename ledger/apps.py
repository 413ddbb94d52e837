from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Books"

    def ready(self) -> None:
        from accounts.categories import category_names_register
        from accounts.models import SyncRun
        from accounts.runs import run_requeue_register
        from ledger.chart import chart_names
        from ledger.services import books_run_requeue

        # What the runs sweep queues again after a killed process (accounts.runs).
        run_requeue_register(SyncRun.Kind.XERO_PUSH, books_run_requeue)
        run_requeue_register(SyncRun.Kind.XERO_PULL, books_run_requeue)
        category_names_register(chart_names)
