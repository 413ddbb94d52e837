"""Conversion: direction of each source, triangulation, windows, overrides, rounding, and
the properties that must hold for any amount and any rates."""

from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from treasury.fx.convert import (
    DEFAULT_WINDOW_DAYS,
    PRECISION,
    RateBook,
    RateBookError,
    RateLeg,
    RateMissing,
    convert,
)
from treasury.fx.models import Source
from treasury.fx.tests.factories import RateFactory, ecb, treasury
from treasury.money import from_minor, minor_units

D = Decimal
DAY = date(2024, 12, 31)


def book(source: str, *legs: tuple[str, str, str], on: date = DAY, **kwargs) -> RateBook:
    """An in-memory book of `source` legs (base, quote, rate), all dated `on`."""
    items = [RateLeg(source, base, quote, D(rate), on) for base, quote, rate in legs]
    codes = {c for base, quote, _ in legs for c in (base, quote)} | kwargs.pop("extra", set())
    return RateBook(
        source=source, currencies=codes, start=on - timedelta(days=30), end=on + timedelta(days=30),
        window_days=kwargs.pop("window_days", DEFAULT_WINDOW_DAYS[source]), legs=items, **kwargs,
    )  # fmt: skip


# --- each source's direction -------------------------------------------------------------


@pytest.mark.django_db
def test_treasury_rates_are_foreign_units_per_usd():
    treasury(DAY, "EUR", "0.961")  # the Treasury's EUR rate for 2024-12-31
    to_usd = convert(D("100.00"), "EUR", "USD", on=DAY, source=Source.TREASURY)
    assert to_usd.rounded(ROUND_HALF_UP) == D("104.06")  # 100 / 0.961
    assert to_usd.amount == PRECISION.divide(D(100), D("0.961"))
    assert (to_usd.source, to_usd.rate_date, to_usd.via) == ("TREASURY", DAY, None)
    to_eur = convert(D("100.00"), "USD", "EUR", on=DAY, source=Source.TREASURY)
    assert to_eur.amount == D("96.1")  # 100 times 0.961
    assert to_eur.rate == D("0.961")


@pytest.mark.django_db
def test_ecb_rates_are_foreign_units_per_eur():
    ecb(DAY, USD="1.0389", JPY="163.06")
    to_usd = convert(D("100.00"), "EUR", "USD", on=DAY)
    assert to_usd.amount == D("103.89")  # 100 times 1.0389
    to_eur = convert(D("100.00"), "USD", "EUR", on=DAY)
    assert to_eur.rounded(ROUND_HALF_EVEN) == D("96.26")  # 100 / 1.0389
    cross = convert(D("100.00"), "USD", "JPY", on=DAY)
    assert cross.amount == PRECISION.divide(D(100) * D("163.06"), D("1.0389"))
    assert (cross.via, cross.source, [leg.quote for leg in cross.legs]) == (
        "EUR",
        "ECB",
        ["JPY", "USD"],
    )


@pytest.mark.django_db
def test_wise_rates_are_quoted_as_stored_and_inverted_at_full_precision():
    RateFactory(source=Source.WISE, base="USD", quote="EUR", rate=D("0.92345"), date=DAY)
    assert convert(D(1), "USD", "EUR", on=DAY, source="WISE").rate == D("0.92345")
    back = convert(D("0.92345"), "EUR", "USD", on=DAY, source="WISE")
    assert back.amount == D(1)


# --- identity, windows and missing rates -------------------------------------------------


@pytest.mark.django_db
def test_same_currency_is_the_only_rate_of_one(django_assert_num_queries):
    with django_assert_num_queries(0):
        same = convert(D("12.34"), "usd", "USD", on=DAY)
    assert (same.amount, same.rate, same.source, same.currency) == (
        D("12.34"),
        1,
        "IDENTITY",
        "USD",
    )


@pytest.mark.django_db
def test_latest_rate_on_or_before_the_date_within_the_window():
    ecb(date(2024, 3, 28), USD="1.0811")  # Thursday before Good Friday
    easter_monday = date(2024, 4, 1)
    found = convert(D(10), "EUR", "USD", on=easter_monday)
    assert found.rate_date == date(2024, 3, 28)
    assert found.amount == D("10.811")
    with pytest.raises(RateMissing) as missing:
        convert(D(10), "EUR", "USD", on=date(2024, 4, 5))  # 8 days later, window 7
    text = str(missing.value)
    for part in ("ECB", "EUR→USD", "2024-04-05", "7 days"):
        assert part in text
    assert convert(D(10), "EUR", "USD", on=date(2024, 4, 5), window_days=8).rate_date == date(
        2024, 3, 28
    )


@pytest.mark.django_db
def test_a_missing_leg_is_named_and_never_replaced_by_one():
    ecb(DAY, USD="1.0389")
    with pytest.raises(RateMissing, match="ISK per EUR missing"):
        convert(D(1), "USD", "ISK", on=DAY)
    with pytest.raises(RateMissing):
        convert(D(1), "USD", "EUR", on=DAY - timedelta(days=1))  # before the first rate


@pytest.mark.django_db
def test_float_and_bad_codes_are_refused():
    with pytest.raises(TypeError, match="never a float"):
        convert(1.5, "EUR", "USD", on=DAY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO 4217"):
        convert(D(1), "EUR", "EURO", on=DAY)


@pytest.mark.django_db
def test_the_older_leg_dates_a_triangulated_rate():
    ecb(date(2024, 12, 30), USD="1.04")
    ecb(DAY, JPY="163.06")
    result = convert(D(1), "USD", "JPY", on=DAY)
    assert result.rate_date == date(2024, 12, 30)
    assert {leg.date for leg in result.legs} == {date(2024, 12, 30), DAY}


# --- owner overrides ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_override_wins_when_at_least_as_recent_and_says_so(owner):
    ecb(date(2024, 12, 30), USD="1.04", GBP="0.83")
    RateFactory(
        source=Source.MANUAL, base="GBP", quote="USD", rate=D("1.26"), date=date(2024, 12, 30),
        entered_by=owner, reason="Bank's booked rate",
    )  # fmt: skip
    used = convert(D(100), "USD", "GBP", on=DAY)
    assert (used.source, used.amount, used.via) == (
        "MANUAL",
        PRECISION.divide(D(100), D("1.26")),
        None,
    )
    ecb(DAY, USD="1.05", GBP="0.84")  # a newer ECB day beats the override
    assert convert(D(100), "USD", "GBP", on=DAY).source == "ECB"
    assert convert(D(100), "USD", "GBP", on=date(2024, 12, 30), manual=False).source == "ECB"


# --- the batch form ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rate_book_answers_many_dates_and_currencies_in_one_query(django_assert_num_queries):
    days = [DAY - timedelta(days=n) for n in range(10)]
    for day in days:
        ecb(day, USD="1.04", JPY="163", GBP="0.83", CHF="0.94")
    with django_assert_num_queries(1):
        rates = RateBook.load(currencies=["USD", "JPY", "GBP", "CHF"], dates=days)
        figures = [
            rates.convert(D(5), a, b, on=d)
            for d in days
            for a in ("USD", "GBP")
            for b in ("JPY", "CHF")
        ]
    assert len(figures) == 40
    assert {f.source for f in figures} == {"ECB"}
    with pytest.raises(RateBookError, match="did not load SEK"):
        rates.convert(D(1), "USD", "SEK", on=DAY)
    with pytest.raises(RateBookError, match="covers"):
        rates.convert(D(1), "USD", "JPY", on=DAY + timedelta(days=1))


# --- properties ----------------------------------------------------------------------------

RATES = st.decimals(min_value=D("0.0001"), max_value=D("250000"), places=4).filter(lambda r: r > 0)
ECB_CODES = st.sampled_from(["USD", "JPY", "GBP", "CHF", "HUF", "ISK", "IDR", "KRW", "SEK"])
ANY_CODES = st.sampled_from(["USD", "EUR", "JPY", "GBP", "KWD", "BHD", "CLP", "ISK", "IDR", "CHF"])


@st.composite
def money(draw, codes=ANY_CODES):
    code = draw(codes)
    units = draw(st.integers(min_value=-(10**13), max_value=10**13))
    return from_minor(units, code), code


def relative_error(got: Decimal, exact: Fraction) -> Fraction:
    return abs(Fraction(got) - exact) / abs(exact) if exact else abs(Fraction(got))


@given(ECB_CODES, ECB_CODES, RATES, RATES, money(ECB_CODES))
def test_triangulated_agrees_with_two_steps_and_the_exact_cross(a, b, ra, rb, amount):
    value, _ = amount
    assume(a != b and value != 0)
    rates = book(Source.ECB, ("EUR", a, ra), ("EUR", b, rb))
    direct = rates.convert(value, a, b, on=DAY)
    two_steps = rates.convert(rates.convert(value, a, "EUR", on=DAY).amount, "EUR", b, on=DAY)
    exact = Fraction(value) * Fraction(rb) / Fraction(ra)
    # The stated precision: 30 significant digits (arithmetic runs at 34).
    assert relative_error(direct.amount, exact) < Fraction(1, 10**30)
    assert relative_error(two_steps.amount, exact) < Fraction(1, 10**30)
    assert direct.via == "EUR"


@given(RATES, RATES, money(st.sampled_from(["USD", "KWD", "JPY"])))
def test_a_direct_quote_agrees_with_the_cross_it_stands_for(r_eur, r_jpy, amount):
    value, _ = amount
    assume(value != 0)
    cross = (r_jpy / r_eur).normalize()
    stored = Decimal(f"{cross:.15g}")  # a quote carries at most 15 significant digits
    via_usd = book(Source.WISE, ("USD", "EUR", r_eur), ("USD", "JPY", r_jpy))
    direct = book(Source.WISE, ("EUR", "JPY", stored))
    a = via_usd.convert(value, "EUR", "JPY", on=DAY)
    b = direct.convert(value, "EUR", "JPY", on=DAY)
    assert (a.via, b.via) == ("USD", None)
    assert relative_error(a.amount, Fraction(b.amount)) < Fraction(1, 10**14)


@given(ANY_CODES, RATES, money())
def test_there_and_back_returns_the_same_amount(b, rate, amount):
    value, a = amount
    assume(a != b)
    rates = book(Source.WISE, (a, b, rate))
    there = rates.convert(value, a, b, on=DAY)
    back = rates.convert(there.amount, b, a, on=DAY)
    assert back.rounded(ROUND_HALF_EVEN) == value  # unrounded in between: exact


@given(ANY_CODES, RATES, money())
def test_there_and_back_through_rounded_figures_is_within_one_minor_unit(b, rate, amount):
    value, a = amount
    assume(a != b)
    # Meaningful only when B's minor unit is worth no more than A's.
    assume(Decimal(1).scaleb(-minor_units(b)) / rate <= Decimal(1).scaleb(-minor_units(a)))
    rates = book(Source.WISE, (a, b, rate))
    there = rates.convert(value, a, b, on=DAY).rounded(ROUND_HALF_EVEN)
    back = rates.convert(there, b, a, on=DAY).rounded(ROUND_HALF_EVEN)
    assert abs(back - value) <= Decimal(1).scaleb(-minor_units(a))


@given(
    money(st.sampled_from(["USD", "EUR", "KWD", "GBP"])), RATES,
    st.sampled_from([ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_CEILING, ROUND_FLOOR]),
)  # fmt: skip
def test_rounded_yen_has_no_decimals(amount, rate, mode):
    value, code = amount
    rates = book(Source.WISE, (code, "JPY", rate))
    rounded = rates.convert(value, code, "JPY", on=DAY).rounded(mode)
    assert rounded.as_tuple().exponent == 0
    assert rounded == rounded.to_integral_value()


@given(money(), ANY_CODES, st.integers(min_value=8, max_value=4000))
def test_a_missing_rate_raises_and_never_returns_a_number(amount, b, days_later):
    value, a = amount
    assume(a != b and "EUR" not in {a, b})
    present = book(Source.ECB, ("EUR", a, "1.5"), extra={b}, on=DAY)
    with pytest.raises(RateMissing):
        present.convert(value, a, b, on=DAY)  # no leg for b
    legs = [RateLeg("ECB", "EUR", a, D("1.5"), DAY), RateLeg("ECB", "EUR", b, D("2.5"), DAY)]
    stale = RateBook(
        source=Source.ECB, currencies={a, b}, start=DAY, end=DAY + timedelta(days=days_later),
        window_days=7, legs=legs,
    )  # fmt: skip
    with pytest.raises(RateMissing):
        stale.convert(value, a, b, on=DAY + timedelta(days=days_later))
