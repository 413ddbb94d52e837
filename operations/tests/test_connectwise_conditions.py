"""ConnectWise conditions are built from values: quoted, escaped, typed; never pasted."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from operations.connectwise.conditions import AnyOf, Clause, literal, where


def test_values_become_connectwise_literals():
    assert literal('O"Brien \\ Sons') == '"O\\"Brien \\\\ Sons"'
    assert literal(True) == "True"
    assert literal(None) == "null"
    assert literal(250) == "250"
    assert literal(Decimal("1250.50")) == "1250.50"
    eastern = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert literal(eastern) == "[2025-03-01T14:30:00Z]"
    assert literal(date(2025, 3, 1)) == "[2025-03-01T00:00:00Z]"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (1.5, TypeError),  # amounts are Decimal
        ("a*b", ValueError),  # ConnectWise's wildcard cannot be escaped
        ("line\nbreak", ValueError),
        (datetime(2025, 1, 1), ValueError),  # noqa: DTZ001 - a naive one, refused
        (Decimal("NaN"), ValueError),
    ],
)
def test_values_without_an_exact_literal_are_refused(value, error):
    with pytest.raises(error):
        literal(value)


def test_clauses_check_their_field_and_operator_and_join():
    text = where(
        Clause("company/id", "in", [101, 102]),
        None,
        AnyOf(Clause("status/name", "=", "Sent"), Clause("balance", ">", Decimal("0"))),
        Clause("_info/lastUpdated", ">=", datetime(2025, 1, 31, tzinfo=UTC)),
    )
    assert text == (
        'company/id in (101, 102) and (status/name = "Sent" or balance > 0) '
        "and _info/lastUpdated >= [2025-01-31T00:00:00Z]"
    )
    assert where() is None
    for field in ('name" or 1=1 or name="', "company id", "id;"):
        with pytest.raises(ValueError, match="field name"):
            Clause(field, "=", 1)
    with pytest.raises(ValueError, match="one of"):
        Clause("id", "like", "x")
    with pytest.raises(ValueError, match="non-empty"):
        Clause("id", "in", [])
