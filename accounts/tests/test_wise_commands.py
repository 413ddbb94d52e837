"""`manage.py sync_wise` and the Celery tasks of the Wise feed."""

from io import StringIO

import pytest
from celery.exceptions import Retry
from django.core.management import CommandError, call_command

from accounts.models import CashAccount, SyncRun, Transaction
from accounts.tasks import sync_wise_account, sync_wise_balances, sync_wise_statements
from treasury.celery import app

pytestmark = pytest.mark.django_db


def _sync_wise(*args: str) -> str:
    out = StringIO()
    call_command("sync_wise", *args, stdout=out)
    return out.getvalue()


def test_sync_wise_prints_what_it_did(wise_sim, wise_connection):
    output = _sync_wise()
    assert "Quinn Studio LLC" in output
    assert "Wise EUR (EUR):" in output
    assert "balance proved" in output
    assert f"Done: {Transaction.objects.count()} new lines stored." in output
    again = _sync_wise()
    assert "Done: 0 new lines stored." in again


def test_sync_wise_one_account(wise_sim, wise_connection):
    _sync_wise()
    account = CashAccount.objects.get(wise_balance_id=70004)
    output = _sync_wise("--account", str(account.pk))
    assert output.splitlines()[0].strip().startswith("Wise JPY (JPY): 0 new")


def test_sync_wise_explains_what_is_missing(db):
    with pytest.raises(CommandError, match="No Wise connection"):
        _sync_wise()
    with pytest.raises(CommandError, match="No Wise cash account with id 999"):
        _sync_wise("--account", "999")


def test_sync_wise_fails_loudly_when_wise_fails(wise_sim, wise_connection, settings):
    settings.WISE_HTTP_RETRIES = 0
    wise_sim.set_faults(error_rate=1.0)
    with pytest.raises(CommandError, match="failed"):
        _sync_wise()


def test_beat_runs_balances_every_15_minutes_and_statements_hourly():
    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert schedule["accounts.sync_wise_balances"] == 15 * 60
    assert schedule["accounts.sync_wise_statements"] == 60 * 60


def test_the_hourly_task_queues_one_sync_per_wise_balance(
    wise_sim, wise_connection, django_capture_on_commit_callbacks
):
    sync_wise_balances()
    assert CashAccount.objects.filter(wise_balance_id__isnull=False).count() == 5
    with django_capture_on_commit_callbacks() as enqueued:
        sync_wise_statements()
        sync_wise_statements()  # the first ones are still queued: nothing more
    assert len(enqueued) == 5
    queued = SyncRun.objects.filter(status=SyncRun.Status.QUEUED)
    assert queued.count() == 5
    assert set(queued.values_list("account__wise_balance_id", flat=True)) == {
        70001,
        70002,
        70003,
        70004,
        70005,
    }


def test_a_transient_failure_is_retried_later_and_a_lasting_one_is_not(
    wise_sim, wise_connection, settings
):
    settings.WISE_HTTP_RETRIES = 0
    sync_wise_balances()
    account = CashAccount.objects.get(wise_balance_id=70001)
    wise_sim.set_faults(error_rate=1.0)
    with pytest.raises(Retry):
        sync_wise_account(account.pk)
    failed = SyncRun.objects.filter(account=account).latest("started_at")
    assert failed.status == SyncRun.Status.FAILED
    assert failed.detail["transient"] is True

    wise_sim.set_faults()
    wise_sim.tokens.clear()  # the token was revoked: retrying would not help
    outcome = sync_wise_account(account.pk)
    assert outcome["status"] == SyncRun.Status.FAILED
    assert "refused the API token" in outcome["error"]
