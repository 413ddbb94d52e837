"""The tamper-evident trail: each line's digest covers its content and the previous
digest of its account, so changing, removing or reordering a stored line breaks the chain
from that line on. `verify_trail` recomputes it."""

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

RATE_PLACES = Decimal("1e-10")

# The stored fields a digest covers, in the order they are read back for verification.
CHAINED_FIELDS = (
    "seq", "natural_key", "booked_at", "booked_on", "direction", "currency", "amount_minor",
    "fee_minor", "running_balance_minor", "wise_type", "description", "counterparty",
    "reference_number", "payment_reference", "counter_currency", "counter_amount_minor",
    "fx_rate", "source", "raw",
)  # fmt: skip


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Decimal):
        return format(value.quantize(RATE_PLACES), "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def raw_canonical(raw: Mapping[str, Any]) -> Any:
    """The raw payload as the database will give it back (Decimals become strings)."""
    return json.loads(json.dumps(raw, cls=DjangoJSONEncoder))


def line_digest(prev_digest: str, account_id: int, values: Mapping[str, Any]) -> str:
    payload = {name: _canonical(values[name]) for name in CHAINED_FIELDS}
    payload["account"] = account_id
    payload["raw"] = raw_canonical(values["raw"])
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"v1\n{prev_digest}\n{text}".encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    account_id: int
    seq: int
    natural_key: str
    reason: str


def chain_verify(account_id: int, rows: Iterator[Mapping[str, Any]], head: str,
                 length: int) -> BrokenLink | None:  # fmt: skip
    """The first broken link of one account's chain, or None when it all holds.

    `rows` are the account's lines in `seq` order with CHAINED_FIELDS plus `digest` and
    `prev_digest`; `head`/`length` are what the account recorded at the last append.
    """
    previous, expected_seq = "", 1
    for row in rows:
        if row["seq"] != expected_seq:
            return BrokenLink(account_id, expected_seq, "", "line missing from the chain")
        if row["prev_digest"] != previous:
            return BrokenLink(
                account_id, row["seq"], row["natural_key"], "link to previous line broken"
            )
        if line_digest(previous, account_id, row) != row["digest"]:
            return BrokenLink(account_id, row["seq"], row["natural_key"], "content changed")
        previous, expected_seq = row["digest"], expected_seq + 1
    if expected_seq - 1 != length or previous != head:
        return BrokenLink(account_id, expected_seq, "", "lines removed from the end of the chain")
    return None
