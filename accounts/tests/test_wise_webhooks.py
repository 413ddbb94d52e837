"""Wise webhooks: signed deliveries queue one sync each; anything else changes nothing."""

import base64
import json
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client
from django.urls import reverse

from accounts.models import CashAccount, SyncRun, Transaction, WebhookDelivery
from accounts.tasks import sync_wise_account
from accounts.tests.wise_helpers import simulator_keys, stored_keys
from accounts.wise.sync import wise_connection_sync
from simulators.wise.fixtures import rsa_keypair

pytestmark = pytest.mark.django_db

URL = "/webhooks/wise/"


def _event(sim, balance_id=70002, amount="250.00"):
    line = sim.transaction_add(balance_id, Decimal(amount), send_webhook=False)
    balance = sim.business.balance(balance_id)
    return sim.balance_update_event(balance, line, step_id=sim._step)


def _post(body: bytes, headers: dict[str, str]):
    return Client().post(URL, data=body, content_type="application/json", headers=headers)


def _queued_runs():
    return SyncRun.objects.filter(status=SyncRun.Status.QUEUED, kind=SyncRun.Kind.WISE_STATEMENTS)


def test_the_url_is_the_one_wise_is_told(hooked):
    assert reverse("accounts:wise_webhook") == URL


def test_a_valid_signature_queues_one_sync_of_that_balance(
    wise_sim, hooked, django_capture_on_commit_callbacks
):
    body, headers = wise_sim.webhook_request(_event(wise_sim))
    with django_capture_on_commit_callbacks() as enqueued:
        response = _post(body, headers)
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    run = _queued_runs().get()
    assert run.account == CashAccount.objects.get(wise_balance_id=70002)
    assert len(enqueued) == 1  # the Celery task, sent after the commit
    delivery = WebhookDelivery.objects.get()
    assert delivery.sync_run == run
    assert delivery.delivery_id == headers["X-Delivery-Id"]
    assert delivery.event_key.startswith("70002:")


def test_the_same_delivery_twice_queues_once(wise_sim, hooked, django_capture_on_commit_callbacks):
    body, headers = wise_sim.webhook_request(_event(wise_sim))
    with django_capture_on_commit_callbacks() as enqueued:
        first, second = _post(body, headers), _post(body, headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert _queued_runs().count() == 1
    assert WebhookDelivery.objects.count() == 1
    assert len(enqueued) == 1


def test_a_redelivery_under_a_new_delivery_id_is_recognised_by_its_step(wise_sim, hooked):
    event = _event(wise_sim)
    _post(*wise_sim.webhook_request(event))
    again = _post(*wise_sim.webhook_request(event))  # new X-Delivery-Id, same balance step
    assert again.json() == {"status": "duplicate"}
    assert _queued_runs().count() == 1


def test_more_lines_while_a_sync_is_queued_join_that_sync(wise_sim, hooked):
    _post(*wise_sim.webhook_request(_event(wise_sim, amount="10.00")))
    _post(*wise_sim.webhook_request(_event(wise_sim, amount="20.00")))
    assert _queued_runs().count() == 1
    assert set(WebhookDelivery.objects.values_list("sync_run", flat=True)) == {
        _queued_runs().get().pk
    }


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body, headers: (body.replace(b"250", b"950"), headers), id="body"),
        pytest.param(
            lambda body, headers: (body, {**headers, "X-Signature-SHA256": ""}), id="no-signature"
        ),
        pytest.param(
            lambda body, headers: (body, {**headers, "X-Signature-SHA256": "bm90"}),
            id="garbage-signature",
        ),
    ],
)
def test_a_tampered_or_unsigned_delivery_gets_400_and_nothing_happens(wise_sim, hooked, tamper):
    body, headers = tamper(*wise_sim.webhook_request(_event(wise_sim)))
    response = _post(body, headers)
    assert response.status_code == 400
    assert "error" in response.json()
    assert not WebhookDelivery.objects.exists()
    assert not SyncRun.objects.filter(status=SyncRun.Status.QUEUED).exists()


def test_a_delivery_signed_with_another_key_is_refused(wise_sim, hooked):

    body, headers = wise_sim.webhook_request(_event(wise_sim))
    other = serialization.load_pem_private_key(rsa_keypair().private_pem.encode(), None)
    forged = base64.b64encode(other.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    response = _post(body, {**headers, "X-Signature-SHA256": forged})
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_without_a_configured_key_every_delivery_is_refused(wise_sim, connect):
    connect(wise_sim)
    response = _post(*wise_sim.webhook_request(_event(wise_sim)))
    assert response.status_code == 400
    assert "No Wise webhook public key" in response.json()["error"]


def test_a_test_notification_is_acknowledged_without_a_sync(wise_sim, hooked):
    body, headers = wise_sim.webhook_request(_event(wise_sim))
    response = _post(body, {**headers, "X-Test-Notification": "true"})
    assert response.json() == {"status": "ignored"}
    assert not _queued_runs().exists()


def test_a_balance_opened_since_the_last_sync_queues_a_sync_of_the_connection(wise_sim, hooked):
    event = _event(wise_sim)
    event["data"]["balance_id"] = 79999
    response = _post(*wise_sim.webhook_request(event))
    assert response.json() == {"status": "queued"}
    run = _queued_runs().get()
    assert run.account is None
    assert run.detail["connection"] == hooked.pk


def test_webhook_answers_get_with_405(hooked):
    assert Client().get(URL).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_payment_at_wise_reaches_the_books_through_a_real_webhook(wise_sim, hooked, live_server):
    wise_connection_sync(connection=hooked)
    before = Transaction.objects.count()
    wise_sim.webhook_url = live_server.url + URL

    wise_sim.transaction_add(70003, Decimal("480.00"), sender="Pebble & Pine Ltd")

    assert wise_sim.webhooks_sent[-1]["status"] == 200
    run = _queued_runs().get()
    sync_wise_account(run.account_id, run.pk)  # what the worker does with the queued task
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert Transaction.objects.count() == before + 1
    assert stored_keys() == simulator_keys(wise_sim)
    stored = WebhookDelivery.objects.get().payload
    assert json.loads(json.dumps(stored))["data"]["balance_id"] == 70003
