"""The archive's worker tasks: the month-end filing, fanned out per Wise connection."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.models import WiseConnection
from archive.links import statements_attach
from archive.month_reports import month_reports_file
from archive.reports import fbar_worksheet_file
from archive.statements import months_due, statements_file


@shared_task(name="archive.month_end_file", ignore_result=True)
def month_end_file() -> None:
    """Beat: queue the filing of the months just ended, one task per Wise connection;
    file those months' exports and reconciliation summaries, and last year's FBAR
    worksheet when its figures are final (nothing if filed)."""
    today = timezone.now().date()
    months = [m.isoformat() for m in months_due(today)]
    for month in months_due(today):
        month_reports_file(month=month, today=today)
    for connection_id in WiseConnection.objects.values_list("pk", flat=True):
        connection_statements_file.delay(connection_id, months)
    fbar_worksheet_file(year=today.year - 1, today=today)  # once last year's rates are out


@shared_task(name="archive.connection_statements_file", ignore_result=True)
def connection_statements_file(connection_id: int, months: list[str]) -> dict[str, Any] | None:
    connection = WiseConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return None
    due = [date.fromisoformat(m) for m in months]
    result = statements_file(months=due, connections=[connection])
    attached = statements_attach(months=due)  # where the books take them, once
    return {
        "filed": result.filed, "differs": result.differs, "refused": len(result.refused),
        "attached": attached.attached,
    }  # fmt: skip


@shared_task(name="archive.watch_folder", ignore_result=True)
def watch_folder() -> int:
    """Beat: take in the watched folder's files, if one is set."""
    from archive.watch import folder_take

    if not settings.ARCHIVE_WATCH_DIR:
        return 0
    return len(folder_take(folder=Path(settings.ARCHIVE_WATCH_DIR)))
