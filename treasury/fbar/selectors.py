"""The FBAR and Form 8938 computation for a calendar year.

Per account, in its own currency: the highest balance known in the year, from

- the balance carried into January 1 (the latest daily closing or snapshot before the
  year, else the account's opening balance),
- every daily closing of the year (`accounts.DailyBalance`: at most 366 rows an account),
- every balance snapshot of the year (month-end figures entered by hand, and balances
  the institution reported),

a negative balance counting as zero. It is converted to USD at the year's rate
(`treasury.fbar.usd`) and **rounded up** to the next whole dollar. The aggregate is the
sum of those maxima, peaks on different days included; FinCEN 114 is due when it is more
than $10,000. Daily closings are the finest grain kept without reading the lines: a
balance that rose and fell within one day is not seen (FinCEN asks for a "reasonable
approximation", and periodic statements qualify).

Cost: a fixed number of queries whatever the number of accounts and lines: accounts
(with their carried-in balances), daily rows, snapshots, settings, and one to four for
rates. Lines are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_CEILING, Decimal

from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import BalanceSnapshot, CashAccount, DailyBalance, Institution
from treasury.fbar import thresholds
from treasury.fbar.models import MANUAL_SOURCE, FbarAccount, FbarSettings, MonitorState
from treasury.fbar.usd import UsdRate, usd_rates
from treasury.money import from_minor

CARRIED_IN = "carried in"
DAILY = "daily balance"
BY_HAND = "entered by hand"


def whole_dollars(amount: Decimal) -> int:
    """FinCEN: round up to the next whole dollar ($15,265.25 → $15,266)."""
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def dollars(amount: int) -> str:
    """Whole dollars as FinCEN 114 shows them: `$10,001`."""
    return f"${amount:,}"


def long_date(day: date) -> str:
    """`April 15, 2026`."""
    return f"{day:%B} {day.day}, {day.year}"


def account_number_masked(number: str) -> str:
    """'•••• 1234': the last four characters of the number, the rest hidden."""
    visible = "".join(number.split())[-4:]
    return f"•••• {visible}" if visible else ""


def fbar_settings() -> FbarSettings:
    """The owner's settings, or the defaults (U.S. person, single, in the U.S.)."""
    return FbarSettings.objects.filter(pk=1).first() or FbarSettings(pk=1)


@dataclass(frozen=True)
class Observation:
    on: date
    minor: int
    origin: str  # CARRIED_IN, DAILY, BY_HAND or the snapshot's source


@dataclass(frozen=True)
class AccountYear:
    """One account's figures for the year."""

    account: CashAccount
    details: FbarAccount | None
    max_minor: int  # never negative
    max_on: date | None
    max_origin: str
    year_end_minor: int  # never negative; 0 once closed
    went_negative: bool
    rate: UsdRate | None  # None: no rate (see FbarYear.missing_rates)
    max_usd: int | None
    year_end_usd: int | None

    @property
    def currency(self) -> str:
        return self.account.currency

    @property
    def institution(self) -> Institution:
        return self.account.institution

    @property
    def is_foreign(self) -> bool:
        return self.account.is_foreign_for_fbar

    @property
    def flag_decided(self) -> bool:
        return self.details is not None and self.details.flag_decided_at is not None

    @property
    def account_type(self) -> str:
        kind = self.details.account_type if self.details else FbarAccount.AccountType.BANK
        return FbarAccount.AccountType(kind).label

    @property
    def added_here(self) -> bool:
        return self.details is not None and self.details.added_here

    @property
    def max_amount(self) -> Decimal:
        return from_minor(self.max_minor, self.currency)

    @property
    def year_end_amount(self) -> Decimal:
        return from_minor(self.year_end_minor, self.currency)

    @property
    def number_masked(self) -> str:
        return account_number_masked(self.account.account_number)

    @property
    def is_closed(self) -> bool:
        return self.account.closed_on is not None


@dataclass(frozen=True)
class Form8938:
    applies: bool  # the owner is a U.S. person
    thresholds: thresholds.Form8938Thresholds
    year_end_usd: int
    any_time_usd: int

    @property
    def year_end_over(self) -> bool:
        return self.year_end_usd > self.thresholds.year_end_usd

    @property
    def any_time_over(self) -> bool:
        return self.any_time_usd > self.thresholds.any_time_usd

    @property
    def required(self) -> bool:
        return self.applies and (self.year_end_over or self.any_time_over)


@dataclass(frozen=True)
class FbarYear:
    year: int
    as_of: date  # balances up to this day (Dec 31 for a past year)
    is_current: bool  # the year is not over: figures so far
    settings: FbarSettings
    accounts: list[AccountYear]  # every account of the year, foreign ones first
    missing_rates: dict[str, str]
    aggregate_usd: int  # sum of the foreign accounts' maxima that have a rate
    warned_on: date | None  # the day the aggregate first reached 80%
    crossed_on: date | None  # the day it first went over $10,000

    @property
    def foreign(self) -> list[AccountYear]:
        return [row for row in self.accounts if row.is_foreign]

    @property
    def not_foreign(self) -> list[AccountYear]:
        return [row for row in self.accounts if not row.is_foreign]

    @property
    def undecided(self) -> list[AccountYear]:
        return [row for row in self.accounts if not row.flag_decided]

    @property
    def is_estimate(self) -> bool:
        return self.is_current or any(
            row.rate is not None and row.rate.is_estimate for row in self.foreign
        )

    @property
    def is_complete(self) -> bool:
        return all(row.rate is not None for row in self.foreign)

    @property
    def over_threshold(self) -> bool:
        return self.aggregate_usd > thresholds.FBAR_THRESHOLD_USD

    @property
    def filing_required(self) -> bool:
        return self.settings.is_us_person and self.over_threshold

    @property
    def headroom_usd(self) -> int:
        return thresholds.headroom_usd(self.aggregate_usd)

    @property
    def percent(self) -> Decimal:
        return thresholds.percent_of_threshold(self.aggregate_usd)

    @property
    def percent_reached(self) -> int | None:
        return thresholds.percent_reached(self.aggregate_usd)

    @property
    def many_accounts(self) -> bool:
        return len(self.foreign) >= thresholds.MANY_ACCOUNTS

    @property
    def due(self) -> date:
        return thresholds.fbar_due(self.year)[0]

    @property
    def extended_due(self) -> date:
        return thresholds.fbar_due(self.year)[1]

    @property
    def form_8938(self) -> Form8938:
        limits = thresholds.form_8938_thresholds(
            residence=self.settings.residence, filing_status=self.settings.filing_status
        )
        year_end = sum(row.year_end_usd or 0 for row in self.foreign)
        return Form8938(
            applies=self.settings.is_us_person, thresholds=limits, year_end_usd=year_end,
            any_time_usd=self.aggregate_usd,
        )  # fmt: skip

    @property
    def rates(self) -> list[UsdRate]:
        """The distinct rates used, by currency."""
        seen = {row.rate.currency: row.rate for row in self.accounts if row.rate is not None}
        return [seen[code] for code in sorted(seen)]


# --- reading -------------------------------------------------------------------------------


def _accounts(year: int) -> list[CashAccount]:
    """Accounts open at some point in the year, with the balance carried into it."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    start_at = datetime.combine(start, time.min, tzinfo=UTC)
    daily = DailyBalance.objects.filter(account=OuterRef("pk"), date__lt=start).order_by("-date")
    snaps = BalanceSnapshot.objects.filter(account=OuterRef("pk"), taken_at__lt=start_at)
    snaps = snaps.order_by("-taken_at")
    return list(
        CashAccount.objects.select_related("institution", "fbar_details")
        .filter(Q(opened_on__isnull=True) | Q(opened_on__lte=end))
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gte=start))
        .annotate(
            carry_daily_minor=Subquery(daily.values("closing_minor")[:1]),
            carry_daily_on=Subquery(daily.values("date")[:1]),
            carry_snap_minor=Subquery(snaps.values("balance_minor")[:1]),
            carry_snap_at=Subquery(snaps.values("taken_at")[:1]),
        )
        .order_by(F("is_foreign_for_fbar").desc(), "institution__name", "currency", "name")
    )


def _carried_in(account: CashAccount, start: date) -> Observation:
    """The balance on the first day of the year before any of its movements."""
    candidates = []
    if account.carry_daily_on is not None:  # type: ignore[attr-defined]
        candidates.append((account.carry_daily_on, 0, account.carry_daily_minor))  # type: ignore[attr-defined]
    if account.carry_snap_at is not None:  # type: ignore[attr-defined]
        at = account.carry_snap_at.astimezone(UTC).date()  # type: ignore[attr-defined]
        candidates.append((at, 1, account.carry_snap_minor))  # type: ignore[attr-defined]
    minor = max(candidates)[2] if candidates else account.opening_balance_minor
    first_day = max(start, account.opened_on) if account.opened_on else start
    return Observation(on=first_day, minor=minor, origin=CARRIED_IN)


def _observations(
    accounts: list[CashAccount], year: int, as_of: date
) -> dict[int, list[Observation]]:
    """Each account's balances in the year, oldest first (two queries)."""
    start = date(year, 1, 1)
    found: dict[int, list[tuple[date, int, Observation]]] = {
        account.pk: [(start, -1, _carried_in(account, start))] for account in accounts
    }
    ids = list(found)
    rows = DailyBalance.objects.filter(account_id__in=ids, date__gte=start, date__lte=as_of)
    for account_id, day, minor in rows.values_list("account_id", "date", "closing_minor"):
        found[account_id].append((day, 0, Observation(day, minor, DAILY)))
    snaps = (
        BalanceSnapshot.objects.filter(
            account_id__in=ids,
            taken_at__gte=datetime.combine(start, time.min, tzinfo=UTC),
            taken_at__lt=datetime.combine(as_of, time.max, tzinfo=UTC),
        )
        .order_by("taken_at")
        .values_list("account_id", "taken_at", "balance_minor", "source")
    )
    for account_id, taken_at, minor, source in snaps:
        day = taken_at.astimezone(UTC).date()
        origin = BY_HAND if source == MANUAL_SOURCE else f"{source.lower()} balance"
        found[account_id].append((day, 1, Observation(day, minor, origin)))
    # Same day: the carried-in balance first, then the day's closing, then snapshots in
    # the order they were taken (a stable sort on day and rank only).
    return {
        pk: [item[2] for item in sorted(items, key=lambda item: item[:2])]
        for pk, items in found.items()
    }


def _details(account: CashAccount) -> FbarAccount | None:
    try:
        return account.fbar_details
    except FbarAccount.DoesNotExist:
        return None


def _account_year(
    account: CashAccount, seen: list[Observation], rate: UsdRate | None, *, year: int
) -> AccountYear:
    peak = max(seen, key=lambda o: o.minor)  # the first of equal peaks
    max_minor = max(peak.minor, 0)
    closed = account.closed_on is not None and account.closed_on <= date(year, 12, 31)
    year_end = 0 if closed else max(seen[-1].minor, 0)

    def usd(minor: int) -> int | None:
        if rate is None:
            return None
        return whole_dollars(rate.to_usd(from_minor(minor, account.currency)))

    return AccountYear(
        account=account, details=_details(account), max_minor=max_minor,
        max_on=peak.on if peak.minor > 0 else None, max_origin=peak.origin,
        year_end_minor=year_end, went_negative=any(o.minor < 0 for o in seen), rate=rate,
        max_usd=usd(max_minor), year_end_usd=usd(year_end),
    )  # fmt: skip


def _first_days_over(
    observations: dict[int, list[Observation]], rows: list[AccountYear]
) -> tuple[date | None, date | None]:
    """The first days the running aggregate of the foreign accounts' maxima to date
    reached 80% and went over 100% of the line, at the year's rates."""
    rates = {row.account.pk: row for row in rows if row.is_foreign and row.rate is not None}
    events = sorted(
        (o.on, pk, o.minor) for pk in rates for o in observations[pk] if o.minor > 0
    )  # fmt: skip
    best: dict[int, int] = {}
    usd: dict[int, int] = {}
    warned = crossed = None
    index = 0
    while index < len(events):
        day = events[index][0]
        while index < len(events) and events[index][0] == day:
            _, pk, minor = events[index]
            if minor > best.get(pk, 0):
                best[pk] = minor
                row = rates[pk]
                assert row.rate is not None
                usd[pk] = whole_dollars(row.rate.to_usd(from_minor(minor, row.currency)))
            index += 1
        reached = thresholds.percent_reached(sum(usd.values()))
        if reached is not None and warned is None:
            warned = day
        if reached == thresholds.FILE_PERCENT:
            crossed = day
            break
    return warned, crossed


def fbar_year(*, year: int, today: date | None = None) -> FbarYear:
    """The year's FBAR and Form 8938 figures; a year not over yet is computed to `today`
    at the latest Treasury rates, as an estimate."""
    today = today or timezone.localdate()
    year_end = date(year, 12, 31)
    final = year_end < today
    as_of = year_end if final else today
    settings = fbar_settings()
    accounts = _accounts(year)
    observations = _observations(accounts, year, as_of)
    rates, missing = usd_rates(
        {account.currency for account in accounts}, year=year, on=year_end if final else as_of,
        final=final,
    )  # fmt: skip
    rows = [
        _account_year(account, observations[account.pk], rates.get(account.currency), year=year)
        for account in accounts
    ]
    aggregate = sum(row.max_usd for row in rows if row.is_foreign and row.max_usd is not None)
    warned, crossed = _first_days_over(observations, rows)
    foreign_currencies = {row.currency for row in rows if row.is_foreign}
    return FbarYear(
        year=year, as_of=as_of, is_current=not final, settings=settings, accounts=rows,
        missing_rates={c: text for c, text in missing.items() if c in foreign_currencies},
        aggregate_usd=aggregate, warned_on=warned, crossed_on=crossed,
    )  # fmt: skip


# --- the monitor's stored results ----------------------------------------------------------


def monitor_states(*, years: list[int]) -> dict[int, MonitorState]:
    """The monitor's latest result for each year asked (one query)."""
    return {state.year: state for state in MonitorState.objects.filter(year__in=years)}


def monitored_years(today: date) -> list[int]:
    """The current year, and the previous one until its extended FBAR due date."""
    previous = today.year - 1
    if today <= thresholds.fbar_due(previous)[1]:
        return [today.year, previous]
    return [today.year]


def report_years(today: date) -> list[int]:
    """Years offered on the report page: this one and the five before (records are kept
    five years)."""
    return list(range(today.year, today.year - 6, -1))


def default_report_year(today: date) -> int:
    """Last year while its FBAR can still be filed on time (to October 15), else this one."""
    return today.year - 1 if today <= thresholds.fbar_due(today.year - 1)[1] else today.year
