from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "ledger.rules"
    label = "rules"
    verbose_name = "Categorization rules"
