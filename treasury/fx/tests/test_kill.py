"""A rates fetch whose worker is killed mid-way does not block the next one: "Fetch now"
queued nothing for 15 minutes (the dead run counted as pending), now it marks the dead
run interrupted and a new fetch stores the rates."""

import pytest

from accounts.models import SyncRun
from treasury.fx.models import Source
from treasury.fx.services import rates_fetch_enqueue
from treasury.fx.tests.test_services import published, stored
from treasury.tests.workers import wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_fetch_killed_mid_way_blocks_no_later_fetch(ecb_simulator):
    ecb_simulator.set_faults(slow_rate=1.0, slow_seconds=5)
    with workers(ECB_URL=ecb_simulator.url) as start:
        first = start()
        killed = rates_fetch_enqueue(source=Source.ECB)
        wait_for(
            lambda: SyncRun.objects.filter(pk=killed.pk, status=SyncRun.Status.RUNNING).exists(),
            what="the fetch to start",
        )
        first.kill()
        ecb_simulator.set_faults()
        start()
        again = rates_fetch_enqueue(source=Source.ECB)  # "Fetch now" on the rates page
        assert again.pk != killed.pk
        wait_for(
            lambda: SyncRun.objects.filter(pk=again.pk, status=SyncRun.Status.SUCCEEDED).exists(),
            what="the second fetch",
        )
    killed.refresh_from_db()
    assert (killed.status, killed.detail["interrupted"]) == (SyncRun.Status.FAILED, True)
    assert stored() == published(ecb_simulator)
