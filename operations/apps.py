from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The work side: ConnectWise PSA's invoices and payments (not yet wired into the books)."""

    name = "operations"
    verbose_name = "Operations"
