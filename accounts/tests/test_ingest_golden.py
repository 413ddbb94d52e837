"""What a fixed Wise feed stores, byte for byte: values, natural keys, raw payloads,
digests, the chain's head and the daily balances. Pinned before the ingest was made
faster (issue 21), so any change to parsing, normalising, hashing or inserting that
alters a stored byte fails here, on SQLite and PostgreSQL alike.

The feed (`data/golden/wise_statements.json`) is two statements as Wise sends them,
the second overlapping the first by one line, with the awkward cases: integer amounts,
`-0.00`, an exponent, a rate at the column's ten places, escapes, non-ASCII text and
an astral character, offsets other than UTC, two lines at one instant, no reference.
"""

import json
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import DailyBalance, Transaction
from accounts.selectors import trail_verify
from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory
from accounts.trail import raw_json
from accounts.wise.client import wise_json_decode
from accounts.wise.normalize import statement_lines_from_wise

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "golden"
FEED = DATA / "wise_statements.json"
EXPECTED = DATA / "wise_statements.stored.json"
ACCOUNT_ID = 4711  # the digests cover the account's id: fixed, so they are too

STORED = (
    "seq", "natural_key", "booked_at", "booked_on", "direction", "currency", "amount_minor",
    "fee_minor", "running_balance_minor", "wise_type", "description", "counterparty",
    "reference_number", "payment_reference", "counter_currency", "counter_amount_minor",
    "fx_rate", "source", "prev_digest", "digest",
)  # fmt: skip


def _stored(account) -> dict:
    rows = []
    for values in (
        Transaction.objects.filter(account=account).order_by("seq").values(*STORED, "raw")
    ):
        raw = values.pop("raw")
        rows.append({name: str(value) for name, value in values.items()} | {"raw": raw_json(raw)})
    account.refresh_from_db()
    daily = DailyBalance.objects.filter(account=account).order_by("date")
    return {
        "chain_head": account.chain_head,
        "chain_length": account.chain_length,
        "opening_balance_minor": account.opening_balance_minor,
        "lines": rows,
        "daily": [
            [str(d.date), d.closing_minor, d.inflow_minor, d.outflow_minor, d.line_count]
            for d in daily
        ],
    }


def _ingest_feed():
    account = CashAccountFactory(id=ACCOUNT_ID, currency="USD", wise_balance_id=ACCOUNT_ID)
    results = []
    for statement in wise_json_decode(FEED.read_bytes()):
        lines = statement_lines_from_wise(statement)
        result = transactions_ingest(account=account, lines=lines, source="API")
        results.append((result.created, result.skipped))
    return account, results


def test_a_fixed_feed_stores_the_same_bytes_as_ever():
    account, results = _ingest_feed()
    assert results == [(7, 0), (4, 1)]  # the overlapping line is stored once
    assert _stored(account) == json.loads(EXPECTED.read_text())
    assert trail_verify(account_ids=[ACCOUNT_ID]) == {ACCOUNT_ID: None}


def test_the_stored_raw_text_is_the_text_the_digest_covers():
    """SQLite keeps `raw` as text: exactly the canonical JSON the digest was made of
    (PostgreSQL's jsonb keeps the values, compared through the test above)."""
    if connection.vendor != "sqlite":
        pytest.skip("jsonb does not keep the text")
    account, _ = _ingest_feed()
    expected = [line["raw"] for line in json.loads(EXPECTED.read_text())["lines"]]
    with connection.cursor() as cursor:
        cursor.execute("SELECT raw FROM accounts_transaction WHERE account_id = %s ORDER BY seq",
                       [account.pk])  # fmt: skip
        assert [row[0] for row in cursor.fetchall()] == expected
