"""Fifty different webhook events for one balance, arriving together, queue one sync: the
coalescing check and the insert are one step (the account's row is locked). Before, on
PostgreSQL, concurrent requests each saw no queued run and queued their own."""

import threading

import pytest

from accounts.models import SyncRun, WebhookDelivery
from accounts.tests.test_wise_webhooks import _event, _post
from ledger.tests.helpers import in_threads

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
EVENTS = 50


def test_fifty_events_for_one_balance_at_once_queue_one_sync(wise_sim, hooked):
    requests = [
        wise_sim.webhook_request(_event(wise_sim, amount=f"{n + 1}.00")) for n in range(EVENTS)
    ]
    lock, ready = threading.Lock(), threading.Barrier(EVENTS)

    def deliver():
        with lock:
            body, headers = requests.pop()
        ready.wait()  # all at once
        return _post(body, headers).json()["status"]

    answers, errors = in_threads(deliver, EVENTS)
    assert errors == []
    assert sorted(answers) == ["queued"] * EVENTS  # each delivery is new, and joins the sync
    assert WebhookDelivery.objects.count() == EVENTS
    queued = SyncRun.objects.filter(kind=SyncRun.Kind.WISE_STATEMENTS, status="QUEUED")
    assert queued.count() == 1
    assert set(WebhookDelivery.objects.values_list("sync_run", flat=True)) == {queued.get().pk}
