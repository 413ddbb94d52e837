"""Fuzz: the statement parsers and the webhook receiver, driven with generated and mutated
inputs. Properties: a statement file is refused cleanly (StatementLineError, nothing
stored) or imported correctly (its lines stored once, the chain intact, a second import
adds nothing); a signed webhook is answered 200 or 400, never 500, and a replay is a
duplicate. Size: `treasury.tests.fuzz` (`BULWARK_FUZZ_SCALE`, `make fuzz`)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from accounts.lines import StatementLineError
from accounts.models import SyncRun, Transaction, WebhookDelivery
from accounts.selectors import trail_verify
from accounts.statements.services import statement_import
from accounts.tests.factories import CashAccountFactory
from accounts.tests.test_wise_webhooks import _post
from treasury.tests.fuzz import HOSTILE, examples, hostile_date, hostile_int

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]
DATA = Path(__file__).parent / "data" / "statements"
SAMPLES = ["wise_eur_2025-03.csv", "camt053_eur_2025-03.xml", "mt940_eur_2025-03.sta"]


@st.composite
def mutated(draw, sample: bytes) -> bytes:
    """`sample` after a few edits an attacker or a broken exporter would make."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        where = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        edit = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "repeat", "digits"]))
        if edit == "flip" and data:
            data[where] = draw(st.integers(min_value=0, max_value=255))
        elif edit == "cut":
            del data[where : where + draw(st.integers(min_value=1, max_value=80))]
        elif edit == "insert":
            text = draw(st.one_of(st.sampled_from(HOSTILE), hostile_int, hostile_date))
            data[where:where] = text.encode("utf-8", "surrogatepass")
        elif edit == "truncate":
            del data[where:]
        elif edit == "repeat":
            lines = bytes(data).splitlines(keepends=True)
            if lines:
                n = draw(st.integers(min_value=0, max_value=len(lines) - 1))
                lines.insert(n, lines[n])
            data = bytearray(b"".join(lines))
        else:  # a number changed: amounts and balances no longer add up
            digits = [i for i, byte in enumerate(data) if 48 <= byte <= 57]
            if digits:
                data[draw(st.sampled_from(digits))] = draw(st.integers(min_value=48, max_value=57))
    return bytes(data)


@pytest.mark.parametrize("name", SAMPLES)
@examples(40)
@given(data=st.data())
def test_a_mutated_statement_is_refused_cleanly_or_imported_correctly(name, data):
    # Each example in a savepoint rolled back after it: an account an earlier example's
    # file was routed to would otherwise own the file's IBAN, and the import be refused.
    with transaction.atomic():
        _import_mutated(name, data)
        transaction.set_rollback(True)


def _import_mutated(name, data):
    account = CashAccountFactory(currency="EUR")
    body = data.draw(mutated((DATA / name).read_bytes()), label="file")
    try:
        result = statement_import(account=account, data=body, filename=name)
    except StatementLineError:
        assert not Transaction.objects.filter(account=account).exists()
        assert SyncRun.objects.filter(account=account).get().status == SyncRun.Status.FAILED
        return
    assert Transaction.objects.filter(account=account).count() == result.created
    assert trail_verify(account_ids=[account.pk]) == {account.pk: None}
    again = statement_import(account=account, data=body, filename=name)
    assert again.created == 0


@pytest.mark.parametrize("name", SAMPLES)
def test_a_nul_byte_is_refused_cleanly(name):
    """Found by the fuzz suite on PostgreSQL: a NUL in a Wise CSV's header reached the raw
    JSON column, which PostgreSQL refuses (DataError, a 500 on the import page)."""
    account = CashAccountFactory(currency="EUR")
    sample = (DATA / name).read_bytes()
    refused = r"control character \(0x00\)|XML is not well-formed"
    with pytest.raises(StatementLineError, match=refused):
        statement_import(account=account, data=sample[:40] + b"\x00" + sample[40:], filename=name)
    assert not Transaction.objects.filter(account=account).exists()


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(HOSTILE),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
balance_event = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(
            ["balances#update", "balances#credit", "transfers#state-change"]
        )
    },
    optional={
        "data": st.one_of(
            json_value,
            st.fixed_dictionaries(
                {},
                optional={
                    "balance_id": st.one_of(st.sampled_from([70001, 70002]), json_value),
                    "step_id": st.one_of(st.integers(min_value=1, max_value=10**6), json_value),
                    "transaction_type": st.one_of(st.sampled_from(["credit", "debit"]), json_value),
                    "resource": st.one_of(
                        st.fixed_dictionaries({"profile_id": st.one_of(st.integers(), json_value)}),
                        json_value,
                    ),
                },
            ),
        ),
        "sent_at": st.text(max_size=30),
    },
)


@examples(60)
@given(event=balance_event, raw=st.booleans())
def test_a_signed_webhook_is_answered_200_or_400_and_a_replay_is_a_duplicate(
    wise_sim, hooked, event, raw
):
    body = (
        json.dumps(event, cls=DjangoJSONEncoder).encode()
        if not raw
        else json.dumps(event, cls=DjangoJSONEncoder).encode()[: len(str(event)) // 2]
    )
    headers = {
        "X-Signature-SHA256": wise_sim.webhook_sign(body),
        "X-Delivery-Id": str(uuid.uuid4()),
    }
    stored = WebhookDelivery.objects.count()
    first = _post(body, headers)
    assert first.status_code in (200, 400), first.content
    if first.status_code == 400:
        assert WebhookDelivery.objects.count() == stored
        return
    again = _post(body, {**headers, "X-Delivery-Id": str(uuid.uuid4())})
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
