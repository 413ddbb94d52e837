from django.apps import AppConfig


class CashViewConfig(AppConfig):
    name = "treasury.cashview"
    label = "cashview"
    verbose_name = "Cash view"
