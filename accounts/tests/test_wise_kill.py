"""A sync killed mid-way (`kill -9`) and run again ends with exactly Wise's lines."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from accounts.models import CashAccount, SyncRun, Transaction
from accounts.selectors import trail_verify
from accounts.tasks import sweep_runs
from accounts.tests.wise_helpers import simulator_keys, stored_keys
from accounts.wise.services import wise_connection_sync_request
from treasury.tests.workers import database_url, wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _sync_process(sim) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "WISE_API_URL": sim.url,
        "WISE_STATEMENT_SPAN_DAYS": "60",
        "WISE_RETRY_BACKOFF_MS": "10",
        "HTTP_TIMEOUT_SECONDS": "5",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "sync_wise"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_sync_killed_mid_way_and_run_again_ends_the_same(wise_sim_factory, connect):
    until = datetime.now(UTC).replace(microsecond=0)
    sim = wise_sim_factory(start=until - timedelta(days=400), size=600)
    connect(sim)
    sim.set_faults(slow_rate=1.0, slow_seconds=0.15)  # ~40 slow requests: the kill lands mid-way

    first = _sync_process(sim)
    deadline = time.monotonic() + 60
    while Transaction.objects.count() < 50 and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()[0]
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    stored_at_kill = Transaction.objects.count()
    assert 0 < stored_at_kill < sum(simulator_keys(sim).values())

    sim.set_faults()
    second = _sync_process(sim)
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 0, output
    assert "Done:" in output
    assert stored_keys() == simulator_keys(sim)
    assert trail_verify() == dict.fromkeys(CashAccount.objects.values_list("pk", flat=True))
    # The killed process's runs are not left "running" for ever.
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()
    assert SyncRun.objects.filter(error__startswith="Interrupted").exists()


def _sync_env(sim) -> dict[str, str]:
    return {
        "WISE_API_URL": sim.url,
        "WISE_STATEMENT_SPAN_DAYS": "60",
        "WISE_RETRY_BACKOFF_MS": "10",
        "HTTP_TIMEOUT_SECONDS": "5",
    }


def test_a_worker_killed_mid_sync_loses_no_task(wise_sim_factory, connect):
    """The whole worker killed while it syncs: on the embedded broker the task itself
    comes back to the next worker (it used to be deleted for good, leaving the run RUNNING
    until someone pressed "Sync now"); on Redis, whose visibility timeout is minutes, the
    runs sweep queues it again. Either way the run ends and every line is stored once."""
    until = datetime.now(UTC).replace(microsecond=0)
    sim = wise_sim_factory(start=until - timedelta(days=400), size=600)
    connection = connect(sim)
    sim.set_faults(slow_rate=1.0, slow_seconds=0.15)
    with workers(**_sync_env(sim)) as start:
        first = start()
        run = wise_connection_sync_request(connection=connection)
        wait_for(lambda: Transaction.objects.count() >= 50, what="lines stored")
        first.kill()
        assert Transaction.objects.count() < sum(simulator_keys(sim).values())
        sim.set_faults()
        start()
        if settings.REDIS_URL:
            sweep_runs.delay()  # what beat sends every minute
        active = [SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        wait_for(
            lambda: (
                not SyncRun.objects.filter(status__in=active).exists()
                and stored_keys() == simulator_keys(sim)
            ),
            what="the sync to finish after the kill",
        )
    assert trail_verify() == dict.fromkeys(CashAccount.objects.values_list("pk", flat=True))
    run.refresh_from_db()
    if not settings.REDIS_URL:  # the same task, redelivered, finished the same run
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
