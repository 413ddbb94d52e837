"""Celery tasks of the rates store: load by name, call a service. Schedules are in
`treasury/celery.py`."""

from datetime import date
from typing import Any

from celery import shared_task

from accounts.models import SyncRun
from accounts.runs import run_superseded
from treasury.fx.models import Source
from treasury.fx.services import ecb_fetch_due, rates_fetch


def _outcome(source: str, **kwargs: Any) -> dict[str, Any]:
    outcome = rates_fetch(source=source, **kwargs)
    return {"source": str(outcome.source), "status": outcome.status, "message": outcome.message}


@shared_task(name="fx.fetch_rates", acks_late=True, soft_time_limit=300, time_limit=360)
def fetch_rates(source: str, since: str | None = None, run_id: int | None = None) -> dict[str, Any]:
    """Fetch one source now (from the rates page or `fetch_rates`). A redelivery whose run
    already ended (a killed worker's, marked interrupted) does nothing."""
    if run_superseded(run_id):
        return {"source": source, "status": SyncRun.Status.SKIPPED, "message": "superseded"}
    return _outcome(source, since=date.fromisoformat(since) if since else None, run_id=run_id)


@shared_task(
    name="fx.fetch_ecb_when_published", acks_late=True, soft_time_limit=300, time_limit=360
)
def fetch_ecb_when_published() -> dict[str, Any] | None:
    """Fetch the ECB's rates once a new day is published (a no-op, no request, before)."""
    if not ecb_fetch_due():
        return None
    return _outcome(Source.ECB)


@shared_task(name="fx.fetch_treasury", acks_late=True, soft_time_limit=300, time_limit=360)
def fetch_treasury() -> dict[str, Any]:
    return _outcome(Source.TREASURY)


@shared_task(name="fx.fetch_wise", acks_late=True, soft_time_limit=300, time_limit=360)
def fetch_wise() -> dict[str, Any]:
    """Wise mid-market rates; skipped without a request while Wise is not connected."""
    return _outcome(Source.WISE)
