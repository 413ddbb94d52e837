"""A Xero push whose worker is killed (SIGKILL, the whole worker) mid-way: the next push
takes the dead process's lease at once, the sweep queues the push again, and every line
lands in Xero exactly once. Before, the lease blocked every push for 15 minutes
("Skipped · Another push is running") and, on the embedded broker, the task was gone."""

from collections import Counter

import pytest
from django.utils import timezone

from accounts.models import SyncRun
from accounts.tasks import sweep_runs
from ledger.models import Organisation, Posting
from ledger.tasks import xero_push_task
from ledger.tests.factories import wise_year
from ledger.tests.helpers import connected, mapped
from ledger.xero.tests.test_push import _ours
from simulators.xero import seed
from treasury.tests.workers import wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
LINES = 300  # six batches of 50


def _xero_env(sim) -> dict[str, str]:
    return {
        "XERO_API_URL": sim.url,
        "XERO_IDENTITY_URL": sim.url,
        "XERO_LOGIN_URL": sim.url,
        "XERO_CLIENT_ID": seed.DEMO_CLIENT_ID,
        "XERO_CLIENT_SECRET": seed.DEMO_CLIENT_SECRET,
        "HTTP_TIMEOUT_SECONDS": "10",
    }


def push_killed_after_a_batch(worker, organisation) -> None:
    """Queue a push for `worker` and kill it (SIGKILL) once a first batch is posted."""
    xero_push_task.delay(organisation.pk)
    wait_for(
        lambda: Posting.objects.filter(state=Posting.State.POSTED).count() >= 50,
        what="a first batch posted",
    )
    worker.kill()


def _pushes(**filters):
    return SyncRun.objects.filter(kind=SyncRun.Kind.XERO_PUSH, **filters)


def test_a_push_killed_mid_way_is_taken_over_at_once_and_posts_each_line_once(
    owner_client, xero_sim
):
    books = wise_year(n=LINES)
    organisation = mapped(owner_client, connected(owner_client, xero_sim), books)
    xero_sim.set_faults(slow_rate=1.0, slow_seconds=0.4, paths="BankTransactions")
    with workers(**_xero_env(xero_sim)) as start:
        push_killed_after_a_batch(start(), organisation)
        killed = _pushes(status=SyncRun.Status.RUNNING).get()
        assert Organisation.objects.get().push_lease_until > timezone.now()  # left set

        xero_sim.set_faults()
        start()
        sweep_runs.delay()  # what beat sends every minute
        wait_for(
            lambda: (
                _pushes(status=SyncRun.Status.SUCCEEDED).exists()
                and not _pushes(status=SyncRun.Status.RUNNING).exists()
            ),
            what="a push to finish after the kill",
        )
    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.FAILED
    assert killed.error.startswith("Interrupted")
    assert not _pushes(detail__reason="Another push is running", started_at__gt=killed.started_at)
    references = Counter(entry["Reference"] for entry in _ours(xero_sim))
    assert len(references) == LINES
    assert max(references.values()) == 1  # nothing posted twice
    assert Posting.objects.filter(state=Posting.State.POSTED).count() == LINES
    assert Organisation.objects.get().push_lease_until is None
