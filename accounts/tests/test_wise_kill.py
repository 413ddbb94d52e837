"""A sync killed mid-way (`kill -9`) and run again ends with exactly Wise's lines."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection as db

from accounts.models import CashAccount, SyncRun, Transaction
from accounts.selectors import trail_verify
from accounts.tests.wise_helpers import simulator_keys, stored_keys

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    conf = db.settings_dict
    if db.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


def _sync_process(sim) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
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
