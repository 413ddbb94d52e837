"""Importing a statement file: parse it whole, then store it all or nothing."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone

from accounts.lines import StatementLineError
from accounts.models import CashAccount, SyncRun
from accounts.services import transactions_ingest
from accounts.statements.formats import SOURCES, statement_parse


@dataclass(frozen=True)
class StatementImportResult:
    run: SyncRun
    format: str
    lines: int  # lines in the file (after folding fee lines into their payments)
    created: int
    skipped: int  # already stored: from the API, this file before, or another file
    pending_skipped: int
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    first_day: date | None
    last_day: date | None


def statement_import(
    *, account: CashAccount, data: bytes, filename: str, format: str | None = None
) -> StatementImportResult:
    """Import one statement file into `account`, recorded as a FILE_IMPORT sync run.

    The whole file is parsed and checked first (format, balances, every line); then
    `transactions_ingest` stores the lines not stored yet in one transaction. A bad file
    raises StatementLineError naming the line, stores no line, and leaves a FAILED run
    with the message so the owner sees what was refused.
    """
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.FILE_IMPORT,
        status=SyncRun.Status.RUNNING,
        account=account,
        label=filename[:200],
        detail={"format": format or "auto", "bytes": len(data)},
    )
    try:
        parsed = statement_parse(data=data, filename=filename, format=format)
        run.progress_total = len(parsed.lines)
        run.save(update_fields=["progress_total"])
        stored = transactions_ingest(
            account=account,
            lines=parsed.lines,
            source=SOURCES[parsed.format],
            opening_balance=parsed.opening_balance,
        )
    except StatementLineError as exc:
        _run_finish(run, status=SyncRun.Status.FAILED, error=str(exc))
        raise
    except Exception:
        _run_finish(run, status=SyncRun.Status.FAILED, error="unexpected error; see the log")
        raise
    days = [line.booked_on for line in parsed.lines]
    result = StatementImportResult(
        run=run,
        format=parsed.format,
        lines=len(parsed.lines),
        created=stored.created,
        skipped=stored.skipped,
        pending_skipped=parsed.pending_skipped,
        opening_balance=parsed.opening_balance,
        closing_balance=parsed.closing_balance,
        first_day=min(days, default=None),
        last_day=max(days, default=None),
    )
    run.detail = {
        **run.detail,
        "format": parsed.format,
        "first_day": result.first_day,
        "last_day": result.last_day,
        "pending_skipped": result.pending_skipped,
        "opening_balance": result.opening_balance,
        "closing_balance": result.closing_balance,
    }
    run.progress_done = result.lines
    run.created_count, run.skipped_count = result.created, result.skipped
    _run_finish(run, status=SyncRun.Status.SUCCEEDED)
    return result


def _run_finish(run: SyncRun, *, status: str, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save()
