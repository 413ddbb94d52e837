from django.apps import AppConfig


class FxConfig(AppConfig):
    name = "treasury.fx"
    label = "fx"
    verbose_name = "FX rates"
