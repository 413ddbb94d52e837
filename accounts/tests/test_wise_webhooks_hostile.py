"""Validly signed webhooks that are malformed, hostile or replayed: refused with 400 or
recognised as duplicates, and nothing stored twice. (Each answered 500, "duplicate" or
stored six times before.)"""

import json
import uuid

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test import Client

from accounts.models import SyncRun, WebhookDelivery
from accounts.tests.test_wise_webhooks import URL, _event, _post
from accounts.wise.webhooks import MAX_BODY_BYTES, MAX_DEPTH

pytestmark = pytest.mark.django_db


def _signed(sim, body: bytes, delivery_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    headers = {"X-Signature-SHA256": sim.webhook_sign(body)}
    if delivery_id is not None:
        headers["X-Delivery-Id"] = delivery_id
    return body, headers


def _dumps(event: dict) -> str:
    return json.dumps(event, cls=DjangoJSONEncoder)


def _nested(depth: int) -> bytes:
    return b'{"event_type": "x", "data": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_nested(20_000), "not JSON"),  # deeper than Python's recursion limit
        (_nested(MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
        (b'{"event_type": "balances#update", "data": {"balance_id": [1, 2]}}', "balance_id"),
        (b'{"event_type": "balances#update", "data": {"balance_id": true}}', "balance_id"),
        (
            b'{"event_type": "balances#update", "data": {"balance_id": 99999999999999999999}}',
            "balance_id",
        ),
        (b'{"event_type": "balances#update", "data": {"resource": "profile"}}', "resource"),
        (b'{"event_type": "balances#update", "data": {"resource": {"profile_id": "1"}}}', "prof"),
        (b'{"event_type": "balances#update", "data": "x"}', "data"),
        (b'{"event_type": ["balances#update"]}', "event_type"),
        (b'{"event_type": "balances#update", "data": {"amount": NaN}}', "NaN"),
        (b'{"event_type": "balances#update", "data": {"amount": -Infinity}}', "Infinity"),
        (b'{"event_type": "x", "pad": "' + b"a" * MAX_BODY_BYTES + b'"}', "larger than"),
        (b'{"event_type": "x", "data": {"note": "a\\u0000b"}}', "NUL"),  # PostgreSQL refuses
        (b'{"event_type": "x", "data": {"a\\u0000": 1}}', "NUL"),
    ],
)
def test_malformed_signed_bodies_get_400_and_nothing_is_stored(wise_sim, hooked, body, message):
    response = _post(*_signed(wise_sim, body, str(uuid.uuid4())))
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not WebhookDelivery.objects.exists()
    assert not SyncRun.objects.filter(status=SyncRun.Status.QUEUED).exists()


def _without_step(sim) -> dict:
    event = _event(sim)
    del event["data"]["step_id"]
    return event


@pytest.mark.parametrize("with_ids", [True, False])
def test_an_event_without_a_step_replayed_six_times_is_stored_once(wise_sim, hooked, with_ids):
    body = _dumps(_without_step(wise_sim)).encode()
    answers = [
        _post(*_signed(wise_sim, body, str(uuid.uuid4()) if with_ids else None)).json()
        for _ in range(6)
    ]
    assert answers == [{"status": "queued"}] + [{"status": "duplicate"}] * 5
    assert WebhookDelivery.objects.count() == 1
    assert WebhookDelivery.objects.get().event_key.startswith("sha256:")


def test_a_resend_with_a_new_sent_at_is_the_same_event(wise_sim, hooked):
    event = _without_step(wise_sim)
    first = _post(*_signed(wise_sim, _dumps(event).encode(), str(uuid.uuid4())))
    event["sent_at"] = "2031-01-01T00:00:00Z"
    again = _post(*_signed(wise_sim, _dumps(event).encode(), str(uuid.uuid4())))
    assert (first.json(), again.json()) == ({"status": "queued"}, {"status": "duplicate"})


def test_two_different_events_without_steps_are_both_kept(wise_sim, hooked):
    one, two = _without_step(wise_sim), _without_step(wise_sim)
    assert one != two
    for event in (one, two):
        _post(*_signed(wise_sim, _dumps(event).encode(), str(uuid.uuid4())))
    assert WebhookDelivery.objects.count() == 2


@pytest.fixture
def refusing_database() -> None:
    """A database refusing every new delivery with a constraint of its own (a trigger), as
    a full disk or a check would: an IntegrityError that is not the deduplication's."""
    table = WebhookDelivery._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_delivery() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                "'refused' USING ERRCODE = 'check_violation'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_delivery()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )


def test_a_delivery_the_database_refuses_is_not_called_a_duplicate(
    wise_sim, hooked, refusing_database
):
    # Answered "duplicate", Wise would never send it again and the sync it asks for would be
    # lost; a server error makes Wise redeliver it.
    body = _dumps(_event(wise_sim)).encode()
    headers = _signed(wise_sim, body, str(uuid.uuid4()))[1]
    response = Client(raise_request_exception=False).post(
        URL, data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 500
    assert not WebhookDelivery.objects.exists()
    assert not SyncRun.objects.filter(status=SyncRun.Status.QUEUED).exists()
