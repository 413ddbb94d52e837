from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Books"

    def ready(self) -> None:
        from accounts.categories import category_names_register
        from ledger.chart import chart_names

        category_names_register(chart_names)
