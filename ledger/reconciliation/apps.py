from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "ledger.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation"
