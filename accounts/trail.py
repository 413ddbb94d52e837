"""The tamper-evident trail: each line's digest covers its content and the previous
digest of its account, so changing, removing or reordering a stored line breaks the chain
from that line on. `verify_trail` recomputes it.

Encoding (v2): every chained field as text, length-prefixed so no field's content can
shift a boundary, then the raw payload as canonical JSON (sorted keys, compact, Decimals
as strings as the database gives them back). The same bytes come out of a value about to
be stored and of the row read back, on SQLite and PostgreSQL alike.
"""

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

RATE_PLACES = Decimal("1e-10")

# The stored fields a digest covers besides `raw`, in this order.
CHAINED_FIELDS = (
    "seq", "natural_key", "booked_at", "booked_on", "direction", "currency", "amount_minor",
    "fee_minor", "running_balance_minor", "wise_type", "description", "counterparty",
    "reference_number", "payment_reference", "counter_currency", "counter_amount_minor",
    "fx_rate", "source",
)  # fmt: skip

_RAW_ENCODER = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def raw_json(raw: Mapping[str, Any]) -> str:
    """The raw payload as canonical JSON text: what is stored, and what the digest covers."""
    return _RAW_ENCODER.encode(raw)


def _text(value: Any) -> str:
    if value is None:
        return "\u2205"  # distinct from the empty string
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Decimal):
        return format(value.quantize(RATE_PLACES), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def line_digest(
    prev_digest: str, account_id: int, values: Mapping[str, Any], raw_text: str | None = None
) -> str:
    """SHA-256 over the previous digest, the account and the line's content.

    `raw_text` is `raw_json(values["raw"])` when the caller has it already."""
    parts = [_text(values[name]) for name in CHAINED_FIELDS]
    parts.append(raw_json(values["raw"]) if raw_text is None else raw_text)
    body = "".join(f"{len(part)}:{part}" for part in parts)
    return hashlib.sha256(f"v2\n{prev_digest}\n{account_id}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    account_id: int
    seq: int
    natural_key: str
    reason: str


def chain_verify(account_id: int, rows: Iterator[Mapping[str, Any]], head: str,
                 length: int) -> BrokenLink | None:  # fmt: skip
    """The first broken link of one account's chain, or None when it all holds.

    `rows` are the account's lines in `seq` order with CHAINED_FIELDS, `raw`, `digest`
    and `prev_digest`; `head`/`length` are what the account recorded at the last append.
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
