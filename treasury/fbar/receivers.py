"""Re-run the FBAR monitor after new lines change balances."""

from typing import Any

from accounts.models import CashAccount


def lines_stored_monitor(sender: Any, account: CashAccount, **_: Any) -> None:
    """Only foreign accounts move the FBAR figures; the run itself is enqueued once the
    ingest commits, and an unreachable broker fails nothing (the daily run catches up)."""
    if account.is_foreign_for_fbar:
        from treasury.fbar.services import monitor_enqueue

        monitor_enqueue()
