"""A reconciliation or a rules run whose process is killed while it works: the runs sweep
(sent to a real worker, as beat does every minute) marks it interrupted, frees the lease
the dead process held, and queues it again, and a real worker finishes it. Before, the
run stayed RUNNING for good and the reconciliation lease refused every run for 30 min.

The killed process is a real one holding the real lease and run; to kill it *while* it
works, it runs the service with its inner step stalled (a test-only patch inside that
process; nothing is patched in the code under test, which is the recovery)."""

import os
import signal
import subprocess
import sys

import pytest

from accounts.models import SyncRun
from accounts.tasks import sweep_runs
from accounts.tests.factories import CashAccountFactory
from ledger.models import Organisation
from ledger.reconciliation.models import ReconcileLease
from ledger.rules.models import Categorization
from ledger.rules.services import rule_run_start
from ledger.rules.tests.factories import act, cond, lines_store, rule_make
from treasury.tests.workers import database_url, wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _stalled(code: str) -> subprocess.Popen:
    """`manage.py shell -c` running `code`, in its own process group."""
    from django.conf import settings

    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", f"import time\n{code}"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url()},
        start_new_session=True,
    )


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _runs(kind: str, **filters):
    return SyncRun.objects.filter(kind=kind, **filters)


def _kill_then_recover(kind: str, code: str) -> SyncRun:
    """Kill `code`'s process once its run of `kind` is RUNNING; sweep; wait for a new one."""
    process = _stalled(code)
    try:
        killed = wait_for(
            lambda: _runs(kind, status=SyncRun.Status.RUNNING).first(), what=f"a {kind} run"
        )
    finally:
        _kill(process)
    with workers() as start:
        start()
        sweep_runs.delay()  # what beat sends every minute
        wait_for(
            lambda: _runs(kind, status=SyncRun.Status.SUCCEEDED, pk__gt=killed.pk).exists(),
            what=f"the {kind} run queued again",
        )
    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.FAILED
    assert killed.detail["interrupted"] is True
    return killed


def test_a_killed_reconciliation_is_swept_and_runs_again():
    organisation = Organisation.objects.create(tenant_id="t-1", name="Quinn Studio")
    code = (
        "from ledger.reconciliation.services import runs\n"
        "runs._reconcile_once = lambda *args, **kwargs: time.sleep(300)\n"
        f"runs.reconcile(organisation_id={organisation.pk})\n"
    )
    _kill_then_recover(SyncRun.Kind.RECONCILE, code)
    assert ReconcileLease.objects.get().until is None  # released by the run that finished
    assert not _runs(SyncRun.Kind.RECONCILE, status=SyncRun.Status.SKIPPED).exists()


def test_a_killed_rules_run_is_swept_and_runs_again():
    lines = lines_store(
        CashAccountFactory(currency="EUR"),
        *({"amount": "-12.00", "description": f"Figma {n}"} for n in range(5)),
    )
    rule_make(
        "Figma",
        conditions=[cond("DESCRIPTION", "figma")],
        actions=[act("ACCOUNT_CODE", "485")],
    )
    Categorization.objects.all().delete()  # as if the rule had never run
    run = rule_run_start(scope="ALL", enqueue=False)
    code = (
        "from ledger.rules import services\n"
        "services.rules_apply = lambda **kwargs: time.sleep(300)\n"
        f"services.rule_run_execute(run_id={run.pk})\n"
    )
    killed = _kill_then_recover(SyncRun.Kind.RULES, code)
    assert killed.pk == run.sync_run_id
    assert _runs(SyncRun.Kind.RULES, pk=killed.detail["requeued_as"]).get().status == "SUCCEEDED"
    codes = Categorization.objects.filter(transaction__in=lines).values_list(
        "account_code", flat=True
    )
    assert sorted(codes) == ["485"] * 5
