"""A push whose worker runs on another host (its own `BULWARK_VAR_DIR` and host name,
sharing only PostgreSQL and Redis) is killed mid-way (SIGKILL). Its pid means nothing
here, so its lease is not taken at once: a push from this host skips while the lease
runs, takes it over once it has expired (a live holder renews it after every batch),
marks the killed run interrupted, and every line lands in Xero exactly once."""

import time
from collections import Counter

import pytest
from django.utils import timezone

from accounts.models import SyncRun
from ledger import services
from ledger.models import Organisation, Posting
from ledger.tests.factories import wise_year
from ledger.tests.helpers import connected, mapped
from ledger.xero.tests.test_push import _ours
from ledger.xero.tests.test_push_kill import _xero_env, push_killed_after_a_batch
from treasury.tests.workers import two_hosts, workers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    two_hosts,
]
LINES = 300  # six batches of 50
LEASE_SECONDS = 8  # long enough for this host to find it running, even on a busy machine


def _pushes(**filters):
    return SyncRun.objects.filter(kind=SyncRun.Kind.XERO_PUSH, **filters)


def test_a_push_killed_on_another_host_is_taken_over_once_its_lease_expires(
    owner_client, xero_sim, settings, tmp_path
):
    settings.XERO_LEASE_SECONDS = LEASE_SECONDS
    books = wise_year(n=LINES)
    organisation = mapped(owner_client, connected(owner_client, xero_sim), books)
    xero_sim.set_faults(slow_rate=1.0, slow_seconds=0.4, paths="BankTransactions")
    other_host = {
        **_xero_env(xero_sim),
        "BULWARK_HOST_NAME": "host-b",
        "BULWARK_VAR_DIR": str(tmp_path / "host-b"),
        "XERO_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    with workers(**other_host) as start:
        push_killed_after_a_batch(start(), organisation)
    killed = _pushes(status=SyncRun.Status.RUNNING).get()
    assert killed.detail["process"].startswith("host-b~")

    skipped = services.books_push(organisation_id=organisation.pk)
    assert skipped.status == SyncRun.Status.SKIPPED  # host-b's lease still runs
    assert skipped.detail["reason"] == "Another push is running"

    xero_sim.set_faults()
    lapsed = Organisation.objects.get().push_lease_until
    assert lapsed > timezone.now()  # renewed by host-b until it was killed
    time.sleep(max((lapsed - timezone.now()).total_seconds(), 0) + 0.1)
    run = services.books_push(organisation_id=organisation.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.detail

    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.FAILED
    assert killed.error.startswith("Interrupted")
    references = Counter(entry["Reference"] for entry in _ours(xero_sim))
    assert len(references) == LINES
    assert max(references.values()) == 1  # nothing posted twice
    assert Posting.objects.filter(state=Posting.State.POSTED).count() == LINES
    assert Organisation.objects.get().push_lease_until is None
