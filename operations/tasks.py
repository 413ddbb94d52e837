"""Celery tasks of the work side: load by id, call a service. Stable names; JSON args."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from accounts.models import SyncRun
from accounts.runs import run_superseded
from operations.connectwise.client import ConnectWiseError
from operations.models import ConnectWiseConnection, InvoiceRefresh
from operations.services import connection_sync_request, refresh_done, refresh_stale_cutoff
from operations.sync import TRANSIENT_ERRORS, LeaseBusy, connection_sync, invoice_refresh

TRANSIENT_RETRIES = 5  # a sync that failed transiently is retried this many times
BUSY_SECONDS = 30  # a refresh that found a sync running waits this long


@shared_task(name="operations.connectwise_sync", bind=True, ignore_result=True)
def connectwise_sync(
    self: Any, connection_id: int, run_id: int | None = None, full: bool = False
) -> dict[str, Any] | None:
    connection = ConnectWiseConnection.objects.filter(pk=connection_id).first()
    if connection is None or run_superseded(run_id):  # a redelivery the sweep re-queued
        return None
    run = SyncRun.objects.filter(pk=run_id).first() if run_id else None
    run = connection_sync(connection=connection, run=run, full=full)
    if run.detail.get("transient") and self.request.retries < TRANSIENT_RETRIES:
        countdown = run.detail.get("retry_after") or 30 * 2**self.request.retries
        raise self.retry(args=[connection_id, None, full], kwargs={}, countdown=countdown)
    return {"run": run.pk, "status": run.status, "error": run.error}


@shared_task(name="operations.connectwise_invoice_refresh", bind=True, ignore_result=True)
def connectwise_invoice_refresh(self: Any, connection_id: int, cw_id: int) -> str | None:
    """Read an invoice a callback announced; once, however often it was announced."""
    refresh = InvoiceRefresh.objects.filter(connection_id=connection_id, cw_id=cw_id).first()
    if refresh is None:  # already read (a redelivery)
        return None
    started_at = timezone.now()
    try:
        outcome = invoice_refresh(connection=refresh.connection, cw_id=cw_id)
    except LeaseBusy:
        raise self.retry(countdown=BUSY_SECONDS, max_retries=None) from None
    except TRANSIENT_ERRORS as exc:
        raise self.retry(countdown=30 * 2**self.request.retries, max_retries=5) from exc
    except ConnectWiseError:
        InvoiceRefresh.objects.filter(pk=refresh.pk).delete()  # the poll reads it later
        raise
    if not refresh_done(refresh, started_at=started_at):  # announced again meanwhile
        connectwise_invoice_refresh.apply_async((connection_id, cw_id), countdown=1)
    return outcome


@shared_task(name="operations.connectwise_poll", ignore_result=True)
def connectwise_poll() -> int:
    """Beat's safety net: an incremental sync per connection (fan-out), and refreshes
    whose task was lost queued again."""
    for connection in ConnectWiseConnection.objects.all():
        connection_sync_request(connection=connection, label=f"{connection} (poll)")
    stale = InvoiceRefresh.objects.filter(last_at__lt=refresh_stale_cutoff())
    for connection_id, cw_id in stale.values_list("connection_id", "cw_id"):
        connectwise_invoice_refresh.delay(connection_id, cw_id)
    return ConnectWiseConnection.objects.count()
