from django.apps import AppConfig


class FbarConfig(AppConfig):
    name = "treasury.fbar"
    label = "fbar"
    verbose_name = "FBAR and FATCA"
