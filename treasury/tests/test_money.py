from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treasury.money import (
    InexactAmountError,
    UnknownCurrencyError,
    currency_validate,
    decimal_parse,
    from_minor,
    minor_units,
    money_format,
    quantize,
    to_minor,
)


@pytest.mark.parametrize(("code", "units"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)])
def test_minor_units_follow_iso_4217(code, units):
    assert minor_units(code) == units


@pytest.mark.parametrize("bad", ["", "EU", "EURO", "ABC", None, 12, "XXX"])
def test_unknown_currency_is_refused(bad):
    with pytest.raises(UnknownCurrencyError):
        currency_validate(bad)


def test_quantize_uses_the_mode_it_is_given():
    assert quantize(Decimal("2.345"), "USD", ROUND_HALF_UP) == Decimal("2.35")
    assert quantize(Decimal("2.345"), "USD", ROUND_HALF_EVEN) == Decimal("2.34")
    assert quantize(Decimal("1234.5"), "JPY", ROUND_HALF_UP) == Decimal("1235")


def test_to_minor_refuses_inexact_amounts():
    assert to_minor(Decimal("12.30"), "EUR") == 1230
    assert to_minor(Decimal("500"), "JPY") == 500
    with pytest.raises(InexactAmountError):
        to_minor(Decimal("500.5"), "JPY")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["USD", "JPY", "KWD"]))
def test_minor_round_trip(units, code):
    assert to_minor(from_minor(units, code), code) == units


def test_decimal_parse_never_takes_a_float():
    assert decimal_parse("1520.40") == Decimal("1520.40")
    assert decimal_parse("\u221212.5") == Decimal("-12.5")
    for bad in (1.5, "abc", "NaN", True):
        with pytest.raises(ValueError):  # noqa: PT011 - one message per case below
            decimal_parse(bad)


def test_money_format():
    assert money_format(Decimal("1234.5"), "EUR") == "1,234.50 EUR"
    assert money_format(Decimal("120000.4"), "JPY") == "120,000 JPY"
