from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "ledger.rules"
    label = "rules"
    verbose_name = "Categorization rules"

    def ready(self) -> None:
        from accounts.signals import lines_stored
        from ledger.rules.receivers import lines_stored_categorize

        lines_stored.connect(lines_stored_categorize, dispatch_uid="rules.lines_stored_categorize")

        from accounts.models import SyncRun
        from accounts.runs import run_requeue_register
        from ledger.rules.services import rule_run_requeue

        run_requeue_register(SyncRun.Kind.RULES, rule_run_requeue)  # after a killed process
