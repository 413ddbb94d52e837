"""The dashboard's conversions are shared between renders that load equal rate books, and
never outlive a change of the rates (issue 21: the dashboard's speed)."""

from datetime import date
from decimal import Decimal

import pytest

from treasury.cashview.selectors import DayRates
from treasury.fx.convert import PRECISION, RateBook
from treasury.fx.models import Rate, Source

pytestmark = pytest.mark.django_db
START, END = date(2025, 3, 3), date(2025, 3, 14)


def _store() -> None:
    Rate.objects.bulk_create(
        Rate(source=Source.ECB, base="EUR", quote=code, date=date(2025, 3, day), rate=value)
        for day in range(3, 15)
        for code, value in (("USD", Decimal("1.08") + day / Decimal(1000)), ("GBP", "0.84"))
    )


def _per_usd(rate: str) -> Decimal:
    return PRECISION.divide(Decimal(1), Decimal(rate))


def _book() -> RateBook:
    return RateBook.load(source=Source.ECB, currencies={"EUR", "USD", "GBP"}, start=START, end=END)


def test_equal_books_share_their_conversions(monkeypatch):
    _store()
    first = DayRates([_book()], "EUR")
    first.fill(["USD", "GBP"], START, END)
    calls = []
    monkeypatch.setattr(RateBook, "rate", lambda *args, **kwargs: calls.append(args))
    second = DayRates([_book()], "EUR")  # loaded afresh: an equal book, another object
    second.fill(["USD", "GBP"], START, END)
    assert calls == []
    assert second.get("USD", date(2025, 3, 10)).rate == _per_usd("1.090")


def test_a_changed_rate_is_read_at_once():
    _store()
    DayRates([_book()], "EUR").fill(["USD"], START, END)
    Rate.objects.filter(quote="USD", date=date(2025, 3, 10)).update(rate=Decimal("1.25"))
    rates = DayRates([_book()], "EUR")
    rates.fill(["USD"], START, END)
    assert rates.get("USD", date(2025, 3, 10)).rate == _per_usd("1.25")
    assert rates.get("USD", date(2025, 3, 11)).rate == _per_usd("1.091")
    Rate.objects.filter(quote="USD", date=date(2025, 3, 10)).delete()
    gone = DayRates([_book()], "EUR")
    assert gone.get("USD", date(2025, 3, 10)).rate == _per_usd("1.089")  # the day before
