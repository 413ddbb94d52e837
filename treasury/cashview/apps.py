from django.apps import AppConfig


class CashViewConfig(AppConfig):
    name = "treasury.cashview"
    label = "cashview"
    verbose_name = "Cash view"

    def ready(self) -> None:
        from treasury.cashview.status import OWN_PROVIDERS, register_status_provider

        for provider in OWN_PROVIDERS:
            register_status_provider(provider)
