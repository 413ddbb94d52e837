"""Reconciliation on the dashboard: open mismatches, and "proved to <date>" per account."""

from datetime import date

from django.urls import reverse

from ledger.reconciliation.models import Mismatch
from ledger.reconciliation.selectors import mismatches_open_by_type, proved_through_all
from treasury.cashview.status import StatusItem


def mismatches_status(today: date) -> list[StatusItem]:
    """One item: the open mismatch count, by type in the detail (one query)."""
    by_type = mismatches_open_by_type()
    total = sum(by_type.values())
    labels = dict(Mismatch.Type.choices)
    detail = ", ".join(f"{n} {labels[t].lower()}" for t, n in by_type.items() if n)
    return [
        StatusItem(
            key="mismatches",
            label="Open mismatches",
            value=f"{total:,}" if total else "none",
            level="warn" if total else "ok",
            url=reverse("reconciliation:queue"),
            detail=detail or "Wise and Xero agree line by line and balance by balance.",
        )
    ]


def proved_through(account_ids: list[int]) -> dict[int, date | None]:
    proved = proved_through_all()
    return {account_id: proved.get(account_id) for account_id in account_ids}
