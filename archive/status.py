"""The archive on the dashboard's status panel: the last twelve months' holes and
statement differences (the completeness matrix's five queries)."""

from __future__ import annotations

from datetime import date

from django.urls import reverse

from archive.months import month_previous, month_start
from archive.selectors import completeness_matrix
from treasury.cashview.status import StatusItem

MONTHS = 12


def archive_status_items(today: date) -> list[StatusItem]:
    last = month_previous(month_start(today))
    first = last
    for _ in range(MONTHS - 1):
        first = month_previous(first)
    matrix = completeness_matrix(first_month=first, last_month=last)
    holes, differences = matrix.holes, matrix.differences
    if differences:
        level = "error"
    elif holes:
        level = "warn"
    else:
        level = "ok"
    parts = []
    if holes:
        parts.append(f"{holes} month{'s' if holes != 1 else ''} missing")
    if differences:
        parts.append(f"{differences} statement{'s' if differences != 1 else ''} differ")
    value = ", ".join(parts) or "complete"
    return [
        StatusItem(
            key="archive.completeness",
            label="Archive",
            value=value,
            level=level,
            url=reverse("archive:matrix"),
            detail=f"Statements of the last {MONTHS} months, filed and proved.",
        )
    ]
