"""Fetchers of rate sources: HTTP in, frozen `ParsedRate`s out, no models touched.

Each source module parses the service's published format exactly and raises
`RatesMalformed` for anything it cannot read, so a bad response stores nothing.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class ParsedRate:
    """1 `base` = `rate` `quote` on `date`, as the source published it."""

    source: str
    base: str
    quote: str
    date: date
    rate: Decimal
    record_date: date | None = None  # Treasury report date
    source_key: str = ""  # Treasury country_currency_desc
    observed_at: datetime | None = None  # Wise quote time


@dataclass(frozen=True)
class Fetched:
    """A parsed response and where it came from, for the fetch log."""

    rates: list[ParsedRate]
    url: str
    skipped: int = 0  # rows the source published that Bulwark does not map
    notes: tuple[str, ...] = ()
