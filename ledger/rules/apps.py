from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "ledger.rules"
    label = "rules"
    verbose_name = "Categorization rules"

    def ready(self) -> None:
        from accounts.signals import lines_stored
        from ledger.rules.receivers import lines_stored_categorize

        lines_stored.connect(lines_stored_categorize, dispatch_uid="rules.lines_stored_categorize")
