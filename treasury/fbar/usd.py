"""The rate that turns each currency into U.S. dollars for a year's FBAR and Form 8938.

In order, for each currency:

1. **Treasury**: the Treasury Reporting Rate of Exchange for December 31 of the year
   (FinCEN's rule); for the current year, the latest Treasury rate as an *estimate*. Also
   an estimate for a past year whose December 31 report the Treasury has not published.
2. **ECB**: FinCEN allows "another verifiable exchange rate" when the Treasury has none,
   with its source stated: the ECB reference rate on (or just before) the same day,
   crossed to USD through the euro.
3. **Owner override** on the Rates page for the pair (the override log says who set it
   and why: that is the stated source).

Nothing else: a currency none of them prices is reported as missing, never priced at 1.
Each source costs one query, and only when a currency still lacks a rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from treasury.fx.convert import IDENTITY, PRECISION, RateBook, RateMissing
from treasury.fx.models import Rate, Source
from treasury.fx.selectors import treasury_year_end_rates

# The latest Treasury rate older than this is no estimate for today.
ESTIMATE_WINDOW_DAYS = 366


@dataclass(frozen=True)
class UsdRate:
    """`per_usd` units of `currency` per 1 USD (the Treasury's way round), its date, its
    source and whether it is an estimate. `to_usd` converts at full precision."""

    currency: str
    source: str  # TREASURY, ECB, MANUAL or IDENTITY
    per_usd: Decimal
    rate_date: date
    record_date: date | None
    is_estimate: bool
    note: str
    _to_usd: Callable[[Decimal], Decimal] = field(compare=False, repr=False)

    def to_usd(self, amount: Decimal) -> Decimal:
        return self._to_usd(amount)

    @property
    def source_label(self) -> str:
        if self.source == IDENTITY:
            return "U.S. dollars"
        return Source(self.source).label

    @property
    def source_short(self) -> str:
        return {Source.TREASURY: "Treasury", Source.ECB: "ECB", Source.MANUAL: "override"}.get(
            self.source, "USD"
        )

    @property
    def is_fallback(self) -> bool:
        return self.source not in (Source.TREASURY, IDENTITY)


def _identity(on: date) -> UsdRate:
    return UsdRate(
        currency="USD", source=IDENTITY, per_usd=Decimal(1), rate_date=on, record_date=None,
        is_estimate=False, note="U.S. dollars: no conversion", _to_usd=lambda amount: amount,
    )  # fmt: skip


def _treasury(
    code: str, per_usd: Decimal, effective: date, record: date | None, *, estimate: bool
) -> UsdRate:
    report = f"report of {record:%Y-%m-%d}, " if record else ""
    kind = "latest rate, an estimate" if estimate else "rate for December 31"
    return UsdRate(
        currency=code, source=Source.TREASURY, per_usd=per_usd, rate_date=effective,
        record_date=record, is_estimate=estimate,
        note=f"U.S. Treasury Reporting Rate ({kind}; {report}effective {effective:%Y-%m-%d})",
        _to_usd=lambda amount: PRECISION.divide(amount, per_usd),
    )  # fmt: skip


def _from_book(book: RateBook, code: str, on: date, *, estimate: bool) -> UsdRate | None:
    """A fallback rate from an ECB or override book, or None when it has none."""
    try:
        unit = book.rate(code, "USD", on=on)
    except RateMissing:
        return None
    if book.source == Source.ECB:
        note = f"ECB reference rate crossed through EUR: {unit.description}"
    else:
        note = f"Owner override (Rates page, see its log for the source): {unit.description}"

    def to_usd(amount: Decimal) -> Decimal:
        return book.convert(amount, code, "USD", on=on).amount

    return UsdRate(
        currency=code, source=unit.source, per_usd=PRECISION.divide(Decimal(1), unit.rate),
        rate_date=unit.rate_date, record_date=None, is_estimate=estimate, note=note,
        _to_usd=to_usd,
    )  # fmt: skip


def _year_end_published(year: int) -> bool:
    return Rate.objects.filter(source=Source.TREASURY, record_date=date(year, 12, 31)).exists()


def _treasury_rates(codes: set[str], *, year: int, on: date, final: bool) -> dict[str, UsdRate]:
    """Treasury rates of the codes: Dec 31's when `final`, else the latest as estimates."""
    if not codes:
        return {}
    if final:
        found = treasury_year_end_rates(codes, year)
        if found or _year_end_published(year):
            return {
                code: _treasury(code, r.rate, r.effective_date, r.record_date, estimate=False)
                for code, r in found.items()
            }
    book = RateBook.load(
        source=Source.TREASURY, currencies=codes, on=on, window_days=ESTIMATE_WINDOW_DAYS,
        manual=False,
    )  # fmt: skip
    rates = {}
    for code in codes:
        leg = book.latest(Source.TREASURY, "USD", code, on)
        if leg is not None:
            rates[code] = _treasury(code, leg.rate, leg.date, leg.record_date, estimate=True)
    return rates


def usd_rates(
    currencies: Iterable[str], *, year: int, on: date, final: bool
) -> tuple[dict[str, UsdRate], dict[str, str]]:
    """The rate of each currency for `year` priced on `on` (Dec 31 when `final`), and the
    currencies without one, each with the reason."""
    codes = set(currencies)
    rates: dict[str, UsdRate] = {"USD": _identity(on)} if "USD" in codes else {}
    codes.discard("USD")
    rates.update(_treasury_rates(codes, year=year, on=on, final=final))
    for source in (Source.ECB, Source.MANUAL):
        wanting = codes - set(rates)
        if not wanting:
            break
        book = RateBook.load(source=source, currencies=wanting | {"USD"}, on=on, manual=False)
        for code in wanting:
            found = _from_book(book, code, on, estimate=not final)
            if found is not None:
                rates[code] = found
    missing = {
        code: (
            f"No rate for {code}: the U.S. Treasury, the ECB and the owner's overrides have "
            f"none for {on:%Y-%m-%d}. Set one on the Rates page, stating its source."
        )
        for code in sorted(codes - set(rates))
    }
    return rates, missing
