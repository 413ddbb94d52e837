"""Categorize lines as they arrive, without slowing the ingest that stores them."""

from typing import Any

from django.db import transaction

from accounts.models import CashAccount


def lines_stored_categorize(sender: Any, account: CashAccount, first_seq: int, **_: Any) -> None:
    """Enqueue categorization of the new lines once their transaction commits.

    `robust`: a broker that cannot be reached must not fail the ingest; the lines stay
    unseen and the periodic `rules.apply_unseen` sweep categorizes them.
    """
    from ledger.rules.tasks import apply_new_lines

    account_id = account.pk
    transaction.on_commit(lambda: apply_new_lines.delay(account_id, first_seq), robust=True)
