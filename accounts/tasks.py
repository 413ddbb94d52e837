"""Celery tasks of the Wise feed: load by id, call a service. Stable names; JSON args."""

from typing import Any

from celery import shared_task

from accounts.models import CashAccount, SyncRun, WiseConnection
from accounts.runs import run_superseded, runs_sweep
from accounts.wise.services import wise_account_sync_request
from accounts.wise.sync import wise_account_sync, wise_balances_sync, wise_connection_sync

# A transient failure (rate limit, Wise unavailable) is retried this many times.
TRANSIENT_RETRIES = 3


def _run(run_id: int | None) -> SyncRun | None:
    return SyncRun.objects.filter(pk=run_id).first() if run_id else None


def _outcome(run: SyncRun) -> dict[str, Any]:
    return {"run": run.pk, "status": run.status, "created": run.created_count, "error": run.error}


@shared_task(name="accounts.sync_wise_connection", ignore_result=True)
def sync_wise_connection(connection_id: int, run_id: int | None = None) -> dict[str, Any] | None:
    connection = WiseConnection.objects.filter(pk=connection_id).first()
    if connection is None or run_superseded(run_id):
        return None
    return _outcome(wise_connection_sync(connection=connection, run=_run(run_id)))


@shared_task(name="accounts.sync_wise_account", bind=True, ignore_result=True)
def sync_wise_account(
    self: Any, account_id: int, run_id: int | None = None
) -> dict[str, Any] | None:
    account = CashAccount.objects.filter(pk=account_id).first()
    if account is None or run_superseded(run_id):  # a redelivery the sweep already re-queued
        return None
    run = wise_account_sync(account=account, run=_run(run_id))
    if run.detail.get("transient") and self.request.retries < TRANSIENT_RETRIES:
        countdown = run.detail.get("retry_after") or 60 * 2**self.request.retries
        raise self.retry(args=[account_id, None], kwargs={}, countdown=countdown)
    return _outcome(run)


@shared_task(name="accounts.sync_wise_balances", ignore_result=True)
def sync_wise_balances() -> None:
    for connection in WiseConnection.objects.all():
        wise_balances_sync(connection=connection)


@shared_task(name="accounts.sync_wise_statements", ignore_result=True)
def sync_wise_statements() -> None:
    """Fan out: one queued sync per active Wise balance."""
    accounts = CashAccount.objects.filter(wise_balance_id__isnull=False, is_active=True)
    connected = set(WiseConnection.objects.values_list("profile_id", flat=True))
    for account in accounts:
        if account.wise_profile_id in connected:
            wise_account_sync_request(account=account, label=f"{account} (hourly)")


@shared_task(name="accounts.runs_sweep", ignore_result=True)
def sweep_runs() -> int:
    """Beat: runs left RUNNING by dead processes, marked interrupted and queued again."""
    return len(runs_sweep())
