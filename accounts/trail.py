"""The tamper-evident trail: each line's digest covers its content and the previous
digest of its account, so changing, removing or reordering a stored line breaks the chain
from that line on. `verify_trail` recomputes it.

Encoding (v2): every chained field as text, length-prefixed so no field's content can
shift a boundary, then the raw payload as canonical JSON (sorted keys, compact, Decimals
as strings as the database gives them back). The same bytes come out of a value about to
be stored and of the row read back, on SQLite and PostgreSQL alike.
"""

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
from django.core.serializers.json import DjangoJSONEncoder

try:
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

RATE_PLACES = Decimal("1e-10")

# The stored fields a digest covers besides `raw`, in this order.
CHAINED_FIELDS = (
    "seq", "natural_key", "booked_at", "booked_on", "direction", "currency", "amount_minor",
    "fee_minor", "running_balance_minor", "wise_type", "description", "counterparty",
    "reference_number", "payment_reference", "counter_currency", "counter_amount_minor",
    "fx_rate", "source",
)  # fmt: skip

_RAW_ENCODER = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_RAW_STRING = json.encoder.encode_basestring  # ensure_ascii=False


def _raw_default(value: Any) -> Any:
    """`DjangoJSONEncoder.default`, with the payload's usual case (a Decimal) first."""
    if type(value) is Decimal:
        return str(value)
    return _RAW_ENCODER.default(value)


def raw_json(raw: Mapping[str, Any]) -> str:
    """The raw payload as canonical JSON text: what is stored, and what the digest covers.

    The same text as `_RAW_ENCODER.encode(raw)`, through the C encoder built for the
    call directly (the per-call setup of `JSONEncoder.iterencode` and the `isinstance`
    chain of `default` for every Decimal are most of a statement line's encoding time).
    """
    if _c_make_encoder is None or not isinstance(raw, dict):
        return _RAW_ENCODER.encode(raw)
    encode = _c_make_encoder(
        {}, _raw_default, _RAW_STRING, None, ":", ",", True, False, True
    )  # markers, default, encoder, indent, separators, sort_keys, skipkeys, allow_nan
    return "".join(encode(raw, 0))


# Keys sorted, compact, non-ASCII as is, Decimals as their strings: `raw_json`'s text for
# the values a JSON decoder yields (tests/test_trail_raw.py holds the two together).
_PLAIN_ENCODER = msgspec.json.Encoder(order="sorted")


def raw_json_plain(raw: dict[str, Any]) -> str:
    """`raw_json(raw)` for a payload made only of what a JSON decoder yields (dict with
    str keys, list, str, int, Decimal, bool, None), from msgspec's C encoder in a third
    of the time. Not for other types: msgspec writes floats, datetimes and the like
    otherwise than `DjangoJSONEncoder`."""
    return _PLAIN_ENCODER.encode(raw).decode()


def _datetime_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decimal_text(value: Decimal) -> str:
    return format(value.quantize(RATE_PLACES), "f")


def _text(value: Any) -> str:
    if value is None:
        return "\u2205"  # distinct from the empty string
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# `_text` by exact type, for the types a line's values have (`str` as it is): one dict
# lookup instead of the isinstance chain. Any other type (a subclass) goes to `_text`.
_TEXT_BY_TYPE: dict[type, Any] = {
    str: None,
    int: str,
    type(None): _text,
    datetime: _datetime_text,
    date: date.isoformat,
    Decimal: _decimal_text,
}


def line_digest(
    prev_digest: str, account_id: int, values: Mapping[str, Any], raw_text: str | None = None
) -> str:
    """SHA-256 over the previous digest, the account and the line's content.

    `raw_text` is `raw_json(values["raw"])` when the caller has it already."""
    body = [f"v2\n{prev_digest}\n{account_id}\n"]
    text_by_type = _TEXT_BY_TYPE
    for name in CHAINED_FIELDS:
        value = values[name]
        convert = text_by_type.get(type(value), _text)
        part = value if convert is None else convert(value)
        body.append(f"{len(part)}:{part}")
    raw = raw_json(values["raw"]) if raw_text is None else raw_text
    body.append(f"{len(raw)}:{raw}")
    return hashlib.sha256("".join(body).encode()).hexdigest()


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
