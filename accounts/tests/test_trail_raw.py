"""The fast paths of a Wise line's payload give what the reference paths give: msgspec's
decoder the values of `json.loads(parse_float=Decimal)`, and its sorted encoder the text
of `raw_json`, the bytes every stored line's digest covers (issue 21)."""

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.trail import raw_json, raw_json_plain
from accounts.wise.client import wise_json_decode

# Every code point but lone surrogates (strict JSON in UTF-8 cannot carry them).
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
NUMBER = st.decimals(allow_nan=False, allow_infinity=False, places=None)
SCALARS = st.none() | st.booleans() | st.integers() | NUMBER | TEXT
PAYLOAD = st.dictionaries(
    TEXT,
    st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
        max_leaves=20,
    ),
    max_size=8,
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(PAYLOAD)
def test_the_plain_encoder_writes_the_canonical_text(payload):
    assert raw_json_plain(payload) == raw_json(payload)


def _numbers_as_json(value):
    """The payload as a Wise body writes it: Decimals as JSON numbers."""
    if isinstance(value, dict):
        return {key: _numbers_as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_json(item) for item in value]
    return value


@settings(max_examples=150, derandomize=True, deadline=None)
@given(PAYLOAD)
def test_the_decoder_reads_what_json_reads(payload):
    body = json.dumps(payload, default=_decimal_literal, ensure_ascii=False).encode()
    body = body.replace(b'"\\u0000DEC:', b"").replace(b':DEC\\u0000"', b"")
    expected = json.loads(body, parse_float=Decimal)
    decoded = wise_json_decode(body)
    assert decoded == expected
    assert raw_json(decoded) == raw_json(expected)  # the same digits, trailing zeros kept


def _decimal_literal(value):
    if isinstance(value, Decimal):
        return f"\0DEC:{value}:DEC\0"  # unquoted in the body above: a JSON number
    raise TypeError(type(value).__name__)
