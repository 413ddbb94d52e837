from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The work side: ConnectWise PSA's invoices and payments (not yet wired into the books)."""

    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from accounts.runs import run_requeue_register
        from operations.services import connection_run_requeue
        from operations.sync import RUN_KIND

        # What the runs sweep queues again after a killed process (accounts.runs).
        run_requeue_register(RUN_KIND, connection_run_requeue)
