"""Converting money between currencies, with the rate, its date and its source.

`convert()` answers one figure with one query; `RateBook.load(...)` answers any number of
figures over a set of currencies and dates from one query, with the same rules:

- Same currency: rate exactly 1, source "IDENTITY" (the only time a rate is 1).
- Otherwise the latest rate of the source on or before the date, at most `window_days`
  older. ECB rates are foreign units per EUR and Treasury rates foreign units per USD, so
  a pair without the pivot triangulates: A→B = (B per pivot) ÷ (A per pivot). Wise and
  override rates are used directly or inverted, else through a common base.
- An owner override (source MANUAL) for the pair, in either direction, wins when it is at
  least as recent as the source's rate; the conversion then says "MANUAL".
- No rate inside the window: `RateMissing`, naming the pair, date, source and window.
  Never 1, never a guess, never a float.

Arithmetic runs at 34 significant digits (IEEE 754 decimal128) with a single division,
so a triangulated figure agrees with a two-step conversion to 30 significant digits.
Amounts stay unrounded until someone asks for `.rounded(mode)`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context, Decimal
from functools import cached_property
from typing import Any

from django.db.models import Q

from treasury.fx.models import Rate, Source
from treasury.money import currency_validate, quantize

IDENTITY = "IDENTITY"
PRECISION = Context(prec=34)

# The pivot each source quotes against; Wise and overrides quote any pair.
SOURCE_PIVOT: dict[str, str] = {Source.ECB: "EUR", Source.TREASURY: "USD"}

# How old a rate may be for a date: ECB skips weekends and TARGET holidays (at most four
# days in a row, at Easter); a Treasury report holds for its quarter (up to 92 days);
# Wise quotes every day; an override stands for a month.
DEFAULT_WINDOW_DAYS: dict[str, int] = {
    Source.ECB: 7,
    Source.TREASURY: 100,
    Source.WISE: 3,
    Source.MANUAL: 31,
}


class RateMissing(LookupError):
    """No rate for a pair on a date within the window. Pages show it as 'no rate'."""

    def __init__(
        self, *, from_currency: str, to_currency: str, on: date, source: str,
        window_days: int, detail: str = "",
    ) -> None:  # fmt: skip
        self.from_currency, self.to_currency = from_currency, to_currency
        self.on, self.source, self.window_days = on, source, window_days
        earliest = on - timedelta(days=window_days)
        message = (
            f"No {source} rate for {from_currency}→{to_currency} on {on:%Y-%m-%d}: none "
            f"between {earliest:%Y-%m-%d} and {on:%Y-%m-%d} (window {window_days} days)"
        )
        super().__init__(f"{message}; {detail}" if detail else message)


class RateBookError(ValueError):
    """A RateBook was asked about a currency or date it did not load."""


@dataclass(frozen=True)
class RateLeg:
    """One stored rate used by a conversion: 1 `base` = `rate` `quote` on `date`."""

    source: str
    base: str
    quote: str
    rate: Decimal
    date: date
    record_date: date | None = None


@dataclass(frozen=True)
class Conversion:
    """A converted figure with everything needed to explain it."""

    amount: Decimal  # unrounded, in `currency`
    currency: str
    rate: Decimal  # units of `currency` per 1 `original_currency`
    rate_date: date  # date of the rate used (the older leg when triangulated)
    source: str  # ECB, TREASURY, WISE, MANUAL or IDENTITY
    via: str | None  # the pivot currency when triangulated
    original: Decimal
    original_currency: str
    on: date  # the date asked for
    legs: tuple[RateLeg, ...] = ()

    def rounded(self, rounding: str) -> Decimal:
        """The amount at the currency's ISO 4217 minor unit, with the given mode."""
        return quantize(self.amount, self.currency, rounding)

    @property
    def description(self) -> str:
        """'1 USD = 0.9341429 EUR · ECB 2024-06-28', for titles and footnotes."""
        if self.source == IDENTITY:
            return f"{self.currency}: no conversion"
        text = (
            f"1 {self.original_currency} = {rate_display(self.rate)} {self.currency} · "
            f"{self.source} {self.rate_date:%Y-%m-%d}"
        )
        return f"{text} via {self.via}" if self.via else text


def rate_display(rate: Decimal, significant: int = 7) -> str:
    """A rate as people read it: published rates as published (they carry at most seven
    significant digits), computed ones to seven, never in exponent notation."""
    normal = rate.normalize()
    if len(normal.as_tuple().digits) > significant:
        normal = PRECISION.create_decimal(normal).quantize(
            Decimal(1).scaleb(normal.adjusted() - significant + 1)
        )
    text = f"{normal:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"Amount must be a Decimal (never a float), got {value!r}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"Amount {value!r} is not finite")
    return amount


class RateBook:
    """Rates of one source (plus overrides) for a set of currencies over a date range,
    loaded in one query and looked up in memory."""

    def __init__(
        self, *, source: str, currencies: Iterable[str], start: date, end: date,
        window_days: int, legs: Iterable[RateLeg], manual: bool = True,
    ) -> None:  # fmt: skip
        self.source, self.window_days, self.manual = str(source), window_days, manual
        self.start, self.end = start, end
        self.currencies = frozenset(currencies)
        series: dict[tuple[str, str, str], list[RateLeg]] = {}
        for leg in sorted(legs, key=lambda leg: leg.date):
            series.setdefault((leg.source, leg.base, leg.quote), []).append(leg)
        self._series = {key: ([leg.date for leg in ls], ls) for key, ls in series.items()}

    @cached_property
    def fingerprint(self) -> tuple[Any, ...]:
        """Everything the book's answers depend on, its parameters and every rate it
        loaded: two books with equal fingerprints answer every question alike."""
        legs = tuple(
            (key, tuple((leg.rate, leg.date, leg.record_date) for leg in ls))
            for key, (_, ls) in sorted(self._series.items())
        )
        return (self.source, self.start, self.end, self.window_days, self.manual,
                self.currencies, legs)  # fmt: skip

    @classmethod
    def load(
        cls, *, source: str = Source.ECB, currencies: Iterable[str], on: date | None = None,
        dates: Iterable[date] | None = None, start: date | None = None,
        end: date | None = None, window_days: int | None = None, manual: bool = True,
    ) -> RateBook:  # fmt: skip
        """Load for the dates asked (`on`, `dates`, or `start`..`end`) in one query."""
        if source not in DEFAULT_WINDOW_DAYS:
            raise ValueError(f"Unknown rate source {source!r}; expected one of {Source.values}")
        wanted = [d for d in (on, start, end, *(dates or ())) if d is not None]
        if not wanted:
            raise ValueError("RateBook.load needs `on`, `dates` or `start`/`end`")
        first, last = min(wanted), max(wanted)
        window = DEFAULT_WINDOW_DAYS[source] if window_days is None else window_days
        codes = {currency_validate(code) for code in currencies}
        pair_codes = codes | ({SOURCE_PIVOT[source]} if source in SOURCE_PIVOT else set())
        query = Q(source=source, base__in=pair_codes, quote__in=pair_codes)
        if manual and source != Source.MANUAL:
            query |= Q(source=Source.MANUAL, base__in=codes, quote__in=codes)
        rows = Rate.objects.filter(
            query, date__gte=first - timedelta(days=window), date__lte=last
        ).values_list("source", "base", "quote", "rate", "date", "record_date")
        legs = [RateLeg(*row) for row in rows.order_by()]
        return cls(
            source=source, currencies=codes, start=first, end=last, window_days=window,
            legs=legs, manual=manual,
        )  # fmt: skip

    # --- lookups ---------------------------------------------------------------------

    def latest(self, source: str, base: str, quote: str, on: date) -> RateLeg | None:
        """The newest stored `base→quote` rate of `source` on or before `on`, in window."""
        found = self._series.get((source, base, quote))
        if not found:
            return None
        dates, legs = found
        index = bisect_right(dates, on)
        if index == 0:
            return None
        leg = legs[index - 1]
        return leg if (on - leg.date).days <= self.window_days else None

    def quoted_currencies(self, source: str) -> set[str]:
        """Every currency the book holds a `source` rate for (either side of a pair)."""
        return {code for key in self._series if key[0] == source for code in key[1:]}

    def dates(self, source: str, start: date, end: date) -> set[date]:
        """The dates of the book's `source` rates from `start` to `end`."""
        return {
            day
            for key, (days, _) in self._series.items()
            if key[0] == source
            for day in days
            if start <= day <= end
        }

    def _leg(self, source: str, base: str, quote: str, on: date) -> tuple[RateLeg, bool] | None:
        """`quote` per `base` as (stored leg, inverted?), stored either way round."""
        leg = self.latest(source, base, quote, on)
        if leg is not None:
            return leg, False
        leg = self.latest(source, quote, base, on)
        return (leg, True) if leg is not None else None

    def _pivots(self, source: str) -> list[str]:
        if source in SOURCE_PIVOT:
            return [SOURCE_PIVOT[source]]
        return sorted({key[1] for key in self._series if key[0] == source})

    def _path(self, source: str, a: str, b: str, on: date) -> list[tuple[RateLeg, bool]] | None:
        """Legs turning 1 `a` into `b`: direct, inverted, or through a pivot."""
        pivots = self._pivots(source)
        if source not in SOURCE_PIVOT or a in pivots or b in pivots:
            direct = self._leg(source, a, b, on)
            if direct is not None or source in SOURCE_PIVOT:
                return [direct] if direct is not None else None
        for pivot in pivots:
            to_b = self._leg(source, pivot, b, on)
            to_a = self._leg(source, pivot, a, on)
            if to_b is not None and to_a is not None:
                return [to_b, (to_a[0], not to_a[1])]
        return None

    def _check(self, a: str, b: str, on: date) -> None:
        missing = {a, b} - self.currencies
        if missing:
            raise RateBookError(f"This RateBook did not load {', '.join(sorted(missing))}")
        if not self.start <= on <= self.end:
            raise RateBookError(
                f"This RateBook covers {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}, "
                f"not {on:%Y-%m-%d}"
            )

    # --- conversion ------------------------------------------------------------------

    def convert(
        self, amount: Decimal, from_currency: str, to_currency: str, *, on: date
    ) -> Conversion:
        """`amount` of `from_currency` in `to_currency` on `on`; RateMissing if no rate."""
        value = _amount(amount)
        a, b = currency_validate(from_currency), currency_validate(to_currency)
        if a == b:
            return _identity(value, a, on)
        self._check(a, b, on)
        path = self._path(self.source, a, b, on)
        used = self.source
        if self.manual and self.source != Source.MANUAL:
            override = self._leg(Source.MANUAL, a, b, on)
            if override is not None and (path is None or override[0].date >= _oldest(path)):
                path, used = [override], str(Source.MANUAL)
        if path is None:
            raise RateMissing(
                from_currency=a, to_currency=b, on=on, source=self.source,
                window_days=self.window_days, detail=self._missing_detail(a, b, on),
            )  # fmt: skip
        numerator, denominator = Decimal(1), Decimal(1)
        for leg, inverted in path:
            if inverted:
                denominator = PRECISION.multiply(denominator, leg.rate)
            else:
                numerator = PRECISION.multiply(numerator, leg.rate)
        return Conversion(
            amount=PRECISION.divide(PRECISION.multiply(value, numerator), denominator),
            currency=b,
            rate=PRECISION.divide(numerator, denominator),
            rate_date=_oldest(path),
            source=used,
            via=(SOURCE_PIVOT.get(used) or _common(path)) if len(path) > 1 else None,
            original=value,
            original_currency=a,
            on=on,
            legs=tuple(leg for leg, _ in path),
        )

    def rate(self, from_currency: str, to_currency: str, *, on: date) -> Conversion:
        """The conversion of one unit: `.rate` is `to` per 1 `from`."""
        return self.convert(Decimal(1), from_currency, to_currency, on=on)

    def _missing_detail(self, a: str, b: str, on: date) -> str:
        pivot = SOURCE_PIVOT.get(self.source)
        if pivot is None:
            return ""
        absent = [c for c in (a, b) if c != pivot and self._leg(self.source, pivot, c, on) is None]
        return ", ".join(f"{c} per {pivot} missing" for c in absent)


def _oldest(path: list[tuple[RateLeg, bool]]) -> date:
    return min(leg.date for leg, _ in path)


def _common(path: list[tuple[RateLeg, bool]]) -> str | None:
    first, second = ({leg.base, leg.quote} for leg, _ in path[:2])
    shared = first & second
    return next(iter(shared)) if len(shared) == 1 else None


def _identity(amount: Decimal, currency: str, on: date) -> Conversion:
    return Conversion(
        amount=amount, currency=currency, rate=Decimal(1), rate_date=on, source=IDENTITY,
        via=None, original=amount, original_currency=currency, on=on,
    )  # fmt: skip


def convert(
    amount: Decimal, from_currency: str, to_currency: str, *, on: date,
    source: str = Source.ECB, window_days: int | None = None, manual: bool = True,
) -> Conversion:  # fmt: skip
    """One figure converted (one query; none for the same currency). See the module doc."""
    value = _amount(amount)
    a, b = currency_validate(from_currency), currency_validate(to_currency)
    if a == b:
        return _identity(value, a, on)
    book = RateBook.load(
        source=source, currencies=(a, b), on=on, window_days=window_days, manual=manual
    )
    return book.convert(value, a, b, on=on)
