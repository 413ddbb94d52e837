"""Reconcile an account after every Wise ingest (API sync or statement file)."""

from typing import Any

from django.db import transaction

from accounts.models import CashAccount


def lines_stored_reconcile(sender: Any, account: CashAccount, first_seq: int, **_: Any) -> None:
    """Enqueue a reconciliation of the account once the ingest commits. `robust`: a broker
    that cannot be reached must not fail the ingest; the nightly run catches up."""
    from ledger.reconciliation.tasks import reconcile_account_task

    account_id = account.pk
    transaction.on_commit(lambda: reconcile_account_task.delay(account_id), robust=True)
