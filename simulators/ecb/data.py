"""Deterministic, plausible ECB reference rates from 1999 on.

Each currency walks from a realistic level in daily steps drawn from an RNG seeded by
(seed, currency), pulled back when it strays, so a date's rate depends only on the seed
and never on the day the simulator runs. Rates exist on TARGET days only, inside each
currency's real publication period (the lira until 2004, the rouble until March 2022,
no krona from December 2008 to 2018, ...). Integer basis-point steps and Decimal
arithmetic: no binary floats anywhere near a rate.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from treasury.fx.calendar import target_days

FIRST_DAY = date(1999, 1, 4)


@dataclass(frozen=True)
class Series:
    code: str
    level: Decimal  # units per EUR it starts at and is pulled back to
    start: date = FIRST_DAY
    end: date | None = None  # last day published
    gap: tuple[date, date] | None = None  # not published within (both included)
    spread: int = 22  # bound of each of the three basis-point draws of a daily step

    @property
    def places(self) -> int:
        """About five significant digits, as the ECB publishes."""
        magnitude = self.level.adjusted()
        return 0 if magnitude >= 5 else max(4 - magnitude, 2)

    def published(self, day: date) -> bool:
        if day < self.start or (self.end is not None and day > self.end):
            return False
        return not (self.gap and self.gap[0] <= day <= self.gap[1])


D = Decimal
SERIES: tuple[Series, ...] = (
    Series("USD", D("1.12")),
    Series("JPY", D("135.2")),
    Series("BGN", D("1.9558"), start=date(2000, 7, 19), spread=0),  # pegged
    Series("CYP", D("0.5783"), end=date(2007, 12, 31)),
    Series("CZK", D("25.6")),
    Series("DKK", D("7.4521"), spread=1),  # ERM II, a narrow band
    Series("EEK", D("15.6466"), end=date(2010, 12, 31)),
    Series("GBP", D("0.78")),
    Series("HUF", D("310.5")),
    Series("LTL", D("3.4528"), end=date(2014, 12, 31)),
    Series("LVL", D("0.7028"), end=date(2013, 12, 31)),
    Series("MTL", D("0.4293"), end=date(2007, 12, 31)),
    Series("PLN", D("4.35")),
    Series("ROL", D("36100"), end=date(2005, 6, 30)),
    Series("RON", D("4.62"), start=date(2005, 7, 1)),
    Series("SEK", D("10.4")),
    Series("SIT", D("239.64"), end=date(2006, 12, 29)),
    Series("SKK", D("30.126"), end=date(2008, 12, 31)),
    Series("CHF", D("1.05")),
    Series("ISK", D("142.5"), gap=(date(2008, 12, 10), date(2017, 12, 29))),
    Series("NOK", D("10.8")),
    Series("HRK", D("7.46"), start=date(2000, 7, 19), end=date(2022, 12, 30)),
    Series("RUB", D("85.3"), end=date(2022, 3, 1)),
    Series("TRL", D("1695780"), end=date(2004, 12, 31)),
    Series("TRY", D("18.5"), start=date(2005, 1, 3)),
    Series("AUD", D("1.62")),
    Series("BRL", D("5.4"), start=date(2008, 1, 2)),
    Series("CAD", D("1.47")),
    Series("CNY", D("7.8"), start=date(2005, 4, 1)),
    Series("HKD", D("8.7")),
    Series("IDR", D("16750"), start=date(2005, 4, 1)),
    Series("ILS", D("4.05"), start=date(2011, 1, 3)),
    Series("INR", D("88.5"), start=date(2009, 1, 2)),
    Series("KRW", D("1420")),
    Series("MXN", D("19.8"), start=date(2008, 1, 2)),
    Series("MYR", D("4.9"), start=date(2005, 4, 1)),
    Series("NZD", D("1.78")),
    Series("PHP", D("60.5"), start=date(2005, 4, 1)),
    Series("SGD", D("1.47")),
    Series("THB", D("38.2"), start=date(2005, 4, 1)),
    Series("ZAR", D("19.9")),
)
CODES = tuple(s.code for s in SERIES)
Day = tuple[date, tuple[tuple[str, Decimal], ...]]


def _half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half to even (both positive)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def _walk(series: Series, days: list[date], seed: int) -> dict[date, Decimal]:
    """The series' published rates: a walk kept in integer units of 1e-10 (the same
    numbers Decimal arithmetic quantized to 1e-10 half-even gives, in a fifth of the
    time), published at the series' ~5 significant digits."""
    rng = random.Random(f"ecb:{seed}:{series.code}")
    tenth = 10**10
    value = int(series.level * tenth)
    high, low = value * 13 // 10, value * 3 // 4  # the level's 1.3x and 0.75x
    scale = 10 ** (10 - series.places)
    spread, rates = series.spread, {}
    for day in days:
        # Three uniform draws make a near-normal step of about 0.2% a day.
        step = rng.randint(-spread, spread) + rng.randint(-spread, spread)
        step += rng.randint(-spread, spread)
        if spread:
            step += -8 if value > high else 8 if value < low else 0
        value = _half_even(value * (10000 + step), 10000)
        if series.published(day):
            rates[day] = Decimal(_half_even(value, scale)).scaleb(-series.places)
    return rates


def _horizon(end: date) -> date:
    """Every series is walked to the end of the year after next at least, once per seed
    (Wise's rate book looks 400 days ahead): a day's rate depends only on the days
    before it, so shorter histories are prefixes of longer ones."""
    return date(max(end.year, datetime.now(UTC).year + 2), 12, 31)


@lru_cache(maxsize=4)
def _full_history(seed: int, horizon: date) -> tuple[tuple[date, ...], tuple[Day, ...]]:
    days = list(target_days(FIRST_DAY, horizon))
    walks = [(s.code, _walk(s, days, seed)) for s in SERIES]
    rows = tuple(
        (day, tuple((code, walk[day]) for code, walk in walks if day in walk)) for day in days
    )
    return tuple(days), rows


def history(seed: int, end: date) -> tuple[Day, ...]:
    """Every TARGET day from 1999-01-04 to `end`, oldest first, with its (code, rate)s in
    the ECB's column order."""
    days, rows = _full_history(seed, _horizon(end))
    return rows[: bisect.bisect_right(days, end)]


def usd_rates(seed: int, start: date, end: date) -> dict[date, dict[str, Decimal]]:
    """Units of each ECB currency per one USD on every TARGET day from `start` to `end`
    (EUR included), crossed through the euro at full Decimal precision."""
    days, rows = _full_history(seed, _horizon(end))
    first, last = bisect.bisect_left(days, start), bisect.bisect_right(days, end)
    crossed = {}
    for day, rates in rows[first:last]:
        per_euro = dict(rates)
        dollar = per_euro.get("USD")
        if dollar:
            crossed[day] = {"EUR": 1 / dollar} | {c: r / dollar for c, r in per_euro.items()}
    return crossed
