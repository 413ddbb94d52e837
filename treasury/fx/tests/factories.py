from datetime import date
from decimal import Decimal

import factory

from treasury.fx.models import Rate, Source


class RateFactory(factory.django.DjangoModelFactory):
    """An ECB rate by default: 1 EUR = `rate` `quote` on `date`."""

    class Meta:
        model = Rate

    source = Source.ECB
    base = "EUR"
    quote = "USD"
    date = date(2025, 6, 2)
    rate = Decimal("1.1400")


def ecb(day: date, **rates: str) -> list[Rate]:
    """ECB rates of one day: ecb(date(...), USD="1.08", JPY="160.5")."""
    return [RateFactory(date=day, quote=code, rate=Decimal(value)) for code, value in rates.items()]


def treasury(record: date, code: str, value: str, *, effective: date | None = None) -> Rate:
    """A Treasury row: `value` units of `code` per 1 USD from `effective` (= record)."""
    return RateFactory(
        source=Source.TREASURY, base="USD", quote=code, rate=Decimal(value),
        date=effective or record, record_date=record, source_key=f"{code} text",
    )  # fmt: skip
