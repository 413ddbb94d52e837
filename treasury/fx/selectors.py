"""Reads of the rates store: the Treasury rates FBAR needs, the rates page's tables,
pair histories with their gaps, and the state of each source's fetches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max
from django.utils import timezone
from moneyed import get_currency

from accounts.models import CashAccount, SyncRun
from treasury.fx.calendar import quarter_ends, target_days
from treasury.fx.convert import (
    PRECISION,
    Conversion,
    RateBook,
    RateLeg,
    RateMissing,
)
from treasury.fx.currencies import (
    ECB_CURRENCIES,
    ECB_FORMER_CURRENCIES,
    TREASURY_DESCRIPTIONS,
    WISE_CURRENCIES,
)
from treasury.fx.models import OverrideLog, Rate, Source
from treasury.money import currency_validate

SHOWN_SOURCES = (Source.ECB, Source.TREASURY, Source.WISE)
KNOWN_CURRENCIES = tuple(
    sorted(
        {*ECB_CURRENCIES, *ECB_FORMER_CURRENCIES, *TREASURY_DESCRIPTIONS, *WISE_CURRENCIES, "EUR"}
    )
)


def currency_name(code: str) -> str:
    return get_currency(code).name


# --- Treasury (FBAR, Form 8938) ------------------------------------------------------------


@dataclass(frozen=True)
class TreasuryRate:
    """A Treasury Reporting Rate of Exchange: `rate` foreign units per 1 USD."""

    currency: str
    rate: Decimal
    record_date: date
    effective_date: date
    country_currency_desc: str

    def to_usd(self, amount: Decimal) -> Conversion:
        """`amount` of the currency in USD (amount ÷ rate), unrounded, with provenance."""
        leg = RateLeg(
            source=Source.TREASURY, base="USD", quote=self.currency, rate=self.rate,
            date=self.effective_date, record_date=self.record_date,
        )  # fmt: skip
        return Conversion(
            amount=PRECISION.divide(amount, self.rate), currency="USD",
            rate=PRECISION.divide(Decimal(1), self.rate), rate_date=self.effective_date,
            source=Source.TREASURY, via=None, original=amount, original_currency=self.currency,
            on=self.record_date, legs=(leg,),
        )  # fmt: skip


def _treasury_rate(row: Rate) -> TreasuryRate:
    assert row.record_date is not None
    return TreasuryRate(
        currency=row.quote, rate=row.rate, record_date=row.record_date,
        effective_date=row.date, country_currency_desc=row.source_key,
    )  # fmt: skip


def treasury_year_end_rates(currencies: Iterable[str], year: int) -> dict[str, TreasuryRate]:
    """The FBAR/8938 rate of each currency for December 31 of `year` (one query): from the
    report with record date Y-12-31, its latest row effective on or before Dec 31.
    Currencies the Treasury has no such row for are absent: the caller applies its
    stated fallback."""
    codes = {currency_validate(c) for c in currencies}
    year_end = date(year, 12, 31)
    rows = Rate.objects.filter(
        source=Source.TREASURY, base="USD", quote__in=codes, record_date=year_end,
        date__lte=year_end,
    ).order_by("quote", "date")  # fmt: skip
    return {row.quote: _treasury_rate(row) for row in rows}  # the latest date wins


def treasury_year_end_rate(currency: str, year: int) -> TreasuryRate | None:
    """The Treasury rate for December 31 of `year`, or None when the Treasury has none."""
    code = currency_validate(currency)
    if code == "USD":
        raise ValueError("USD needs no Treasury rate: it is the Treasury's base currency")
    return treasury_year_end_rates([code], year).get(code)


def treasury_latest_rate(currency: str, *, on: date | None = None) -> TreasuryRate | None:
    """The Treasury rate in force on `on` (default today): the latest row, of any report,
    effective on or before it. For estimates during the year."""
    code = currency_validate(currency)
    row = (
        Rate.objects.filter(
            source=Source.TREASURY, base="USD", quote=code, date__lte=on or timezone.localdate()
        )
        .order_by("-date")
        .first()
    )
    return _treasury_rate(row) if row else None


# --- the rates page ------------------------------------------------------------------------


def latest_dates() -> dict[str, date]:
    """The newest stored date per source (one query)."""
    rows = Rate.objects.values("source").annotate(latest=Max("date")).order_by()
    return {row["source"]: row["latest"] for row in rows}


@dataclass(frozen=True)
class RateCell:
    conversion: Conversion | None  # 1 base → currency
    missing: str = ""
    change: Decimal | None = None  # vs the source's previous rate, in percent

    @property
    def inverse(self) -> Decimal | None:
        if self.conversion is None:
            return None
        return PRECISION.divide(Decimal(1), self.conversion.rate)


@dataclass(frozen=True)
class OverviewRow:
    currency: str
    name: str
    cells: list[tuple[str, RateCell | None]]  # one per source shown, in order


@dataclass(frozen=True)
class RatesOverview:
    base: str
    rows: list[OverviewRow]  # the currencies asked for (all by default), by code
    as_of: dict[str, date]
    available: int  # currencies any source quotes against the base

    @property
    def is_empty(self) -> bool:
        return not self.as_of


def _cell(book: RateBook, base: str, code: str, on: date, previous: date | None) -> RateCell:
    try:
        now = book.rate(base, code, on=on)
    except RateMissing as exc:
        return RateCell(conversion=None, missing=str(exc))
    change = None
    if previous is not None:
        try:
            before = book.rate(base, code, on=previous)
        except RateMissing:
            before = None
        if before is not None and before.rate_date < now.rate_date:
            change = (now.rate / before.rate - 1) * 100
    return RateCell(conversion=now, change=change)


def rates_overview(
    *, base: str, dates: dict[str, date] | None = None, only: Iterable[str] | None = None
) -> RatesOverview:
    """1 `base` in every currency a source quotes (or just those in `only`), per source,
    at that source's newest date; ECB and Wise with the change since their previous day.
    One query per source, whatever the number of currencies."""
    base = currency_validate(base)
    dates = latest_dates() if dates is None else dates
    as_of = {s: dates[s] for s in SHOWN_SOURCES if s in dates}
    cells: dict[str, dict[str, RateCell]] = {}
    for source, on in as_of.items():
        previous = on - timedelta(days=1) if source != Source.TREASURY else None
        book = RateBook.load(
            source=source, currencies={*KNOWN_CURRENCIES, *(only or ()), base},
            start=previous or on, end=on,
        )  # fmt: skip
        # Currencies asked for by name show even when the source has no rate for them.
        for code in (book.quoted_currencies(source) | set(only or ())) - {base}:
            cells.setdefault(code, {})[source] = _cell(book, base, code, on, previous)
    shown = sorted(cells) if only is None else sorted(set(only) - {base})
    rows = [
        OverviewRow(
            currency=code, name=currency_name(code),
            cells=[(source, cells.get(code, {}).get(source)) for source in as_of],
        )
        for code in shown
    ]  # fmt: skip
    return RatesOverview(base=base, rows=rows, as_of=as_of, available=len(cells))


MAJOR_CURRENCIES = ("AUD", "CAD", "CHF", "EUR", "GBP", "JPY", "USD")


def currencies_held() -> set[str]:
    """Currencies of the active cash accounts (one query)."""
    return set(
        CashAccount.objects.filter(is_active=True)
        .order_by()
        .values_list("currency", flat=True)
        .distinct()
    )


# --- pair history --------------------------------------------------------------------------


@dataclass(frozen=True)
class PairHistory:
    source: str
    base: str
    quote: str
    start: date
    end: date
    points: list[tuple[date, Decimal | None]]  # None: the source published no rate that day
    gaps: list[tuple[date, date]] = field(default_factory=list)
    expected: int = 0  # publication days in the range

    @property
    def missing(self) -> int:
        return sum(1 for _, value in self.points if value is None)

    @property
    def values(self) -> list[Decimal]:
        return [value for _, value in self.points if value is not None]


def _expected_days(source: str, start: date, end: date) -> list[date]:
    if source == Source.ECB:
        return list(target_days(start, end))
    if source == Source.TREASURY:
        return list(quarter_ends(start, end))
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _gaps(points: list[tuple[date, Decimal | None]]) -> list[tuple[date, date]]:
    """Runs of consecutive missing publication days, as (first, last)."""
    gaps: list[tuple[date, date]] = []
    run: list[date] = []
    for day, value in [*points, (date.max, Decimal(0))]:
        if value is None:
            run.append(day)
        elif run:
            gaps.append((run[0], run[-1]))
            run = []
    return gaps


def pair_history(*, source: str, base: str, quote: str, start: date, end: date) -> PairHistory:
    """The source's own rate for 1 `base` in `quote` on each of its publication days
    (TARGET days, quarter ends plus amendment dates, or every day for Wise), with the
    days it has none. Overrides are left out: this is what the source said."""
    base, quote = currency_validate(base), currency_validate(quote)
    window = 0 if source != Source.TREASURY else None
    book = RateBook.load(
        source=source, currencies={base, quote}, start=start, end=end, window_days=window,
        manual=False,
    )  # fmt: skip
    days = _expected_days(source, start, end)
    reports = set(days) if source == Source.TREASURY else set()
    if source == Source.TREASURY:  # amendments add their own effective dates
        days = sorted({*days, *book.dates(source, start, end)})
    points: list[tuple[date, Decimal | None]] = []
    for day in days:
        try:
            conversion = book.rate(base, quote, on=day)
        except RateMissing:
            points.append((day, None))
            continue
        # A quarter end still priced by an older row means that report is missing.
        stale = day in reports and conversion.rate_date < day
        points.append((day, None if stale else conversion.rate))
    return PairHistory(
        source=source, base=base, quote=quote, start=start, end=end, points=points,
        gaps=_gaps(points), expected=len(days),
    )  # fmt: skip


# --- fetch state and overrides -------------------------------------------------------------


@dataclass(frozen=True)
class SourceStatus:
    source: str
    label: str
    latest_date: date | None
    last_run: SyncRun | None
    last_success: SyncRun | None

    @property
    def running(self) -> bool:
        return self.last_run is not None and self.last_run.status in {
            SyncRun.Status.RUNNING,
            SyncRun.Status.QUEUED,
        }


def fetch_status(*, dates: dict[str, date] | None = None, recent: int = 60) -> list[SourceStatus]:
    """The last run and last success of each fetched source (two queries, one with
    `dates` from `latest_dates()`)."""
    runs: list[SyncRun] = list(
        SyncRun.objects.filter(kind=SyncRun.Kind.RATES, label__in=SHOWN_SOURCES).order_by(
            "-started_at", "-pk"
        )[:recent]
    )
    dates = latest_dates() if dates is None else dates
    statuses = []
    for source in SHOWN_SOURCES:
        mine = [run for run in runs if run.label == source]
        success = next((run for run in mine if run.status == SyncRun.Status.SUCCEEDED), None)
        status = SourceStatus(
            source=source, label=Source(source).label, latest_date=dates.get(source),
            last_run=mine[0] if mine else None, last_success=success,
        )  # fmt: skip
        statuses.append(status)
    return statuses


def overrides(*, limit: int = 100) -> list[Rate]:
    return list(
        Rate.objects.filter(source=Source.MANUAL)
        .select_related("entered_by")
        .order_by("-date", "base", "quote")[:limit]
    )


def override_log(*, limit: int = 20) -> list[OverrideLog]:
    return list(OverrideLog.objects.select_related("user")[:limit])
