"""A real worker killed (SIGKILL) in the middle of a ConnectWise sync: the next worker
finishes it, and the mirror ends exactly as ConnectWise holds the year."""

import pytest
from django.conf import settings

from accounts.models import SyncRun
from accounts.tasks import sweep_runs
from operations.models import Invoice
from operations.services import connection_sync_request
from operations.tests.factories import ConnectionFactory
from operations.tests.test_sync import _assert_exact
from treasury.tests.workers import wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_sync_resumes_and_ends_exact(connectwise_sim):
    connection = ConnectionFactory(site_url=connectwise_sim.url)
    # Slow replies (not failures) so the kill lands between the first and the last batch.
    connectwise_sim.set_faults(slow_rate=1.0, slow_seconds=0.05)
    with workers(HTTP_TIMEOUT_SECONDS="5") as start:
        first = start()
        run = connection_sync_request(connection=connection, full=True)
        wait_for(lambda: Invoice.objects.count() >= 50, what="a first batch stored")
        first.kill()
        stored_at_kill = Invoice.objects.count()
        assert stored_at_kill < len(connectwise_sim.psa.invoices)
        connectwise_sim.set_faults()
        start()
        if settings.REDIS_URL:
            sweep_runs.delay()  # what beat sends every minute
        active = [SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        wait_for(
            lambda: (
                not SyncRun.objects.filter(status__in=active).exists()
                and Invoice.objects.count() == len(connectwise_sim.psa.invoices)
            ),
            what="the sync to finish after the kill",
        )
    _assert_exact(connection, connectwise_sim)
    finished = SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).get()
    assert finished.detail["resumed_after"] >= min(connectwise_sim.psa.invoices)
    run.refresh_from_db()
    if not settings.REDIS_URL:  # the same task, redelivered, finished the same run
        assert run.pk == finished.pk
