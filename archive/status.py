"""The archive on the dashboard's status panel (filled in with the completeness matrix)."""

from __future__ import annotations

from datetime import date

from treasury.cashview.status import StatusItem


def archive_status_items(today: date) -> list[StatusItem]:
    return []
