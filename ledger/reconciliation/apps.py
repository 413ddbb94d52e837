from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "ledger.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        from accounts.signals import lines_stored
        from ledger.reconciliation.receivers import lines_stored_reconcile

        lines_stored.connect(
            lines_stored_reconcile, dispatch_uid="reconciliation.lines_stored_reconcile"
        )
        from ledger.reconciliation.status import mismatches_status, proved_through
        from treasury.cashview.status import register_proof_provider, register_status_provider

        register_status_provider(mismatches_status)
        register_proof_provider(proved_through)

        from accounts.models import SyncRun
        from accounts.runs import run_requeue_register
        from ledger.reconciliation.services import reconcile_requeue

        run_requeue_register(SyncRun.Kind.RECONCILE, reconcile_requeue)  # after a killed process
