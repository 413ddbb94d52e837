"""The FBAR and Form 8938 computation for a calendar year.

Per account, in its own currency: the highest balance known in the year, from the
balance carried into January 1 and every day's balance in the year, as the one balance
selector (`accounts.balances`) gives them to every page: daily closings of the lines,
and reported balances where no lines speak (month-end figures entered by hand, balances
from a statement or from Wise); a negative balance counts as zero. It is converted to
USD at the year's rate (`treasury.fbar.usd`) and **rounded up** to the next whole
dollar. The aggregate is the
sum of those maxima, peaks on different days included; FinCEN 114 is due when it is more
than $10,000. Daily closings are the finest grain kept without reading the lines: a
balance that rose and fell within one day is not seen (FinCEN asks for a "reasonable
approximation", and periodic statements qualify).

Cost: a fixed number of queries whatever the number of accounts and lines: accounts
(with their carried-in balances), daily rows, reported balances, settings, and one to
four for rates. Lines are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db.models import F, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.balances import LINES, balance_window, source_label
from accounts.models import (
    BalanceSnapshot,
    CashAccount,
    DailyBalance,
    Institution,
    account_number_masked,
)
from treasury.fbar import thresholds
from treasury.fbar.models import (
    MANUAL_SOURCE,
    FbarAccount,
    FbarFiling,
    FbarSettings,
    MonitorState,
)
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


def date_text(day: date) -> str:
    """`2026-04-15`: deadlines are written like every other date (ISO 8601)."""
    return f"{day:%Y-%m-%d}"


def fbar_settings() -> FbarSettings:
    """The owner's settings, or the defaults (U.S. person, single, in the U.S.)."""
    return FbarSettings.objects.filter(pk=1).first() or FbarSettings(pk=1)


def _wise_country(institution: Institution) -> str:
    name = institution.name.lower()
    return institution.country.upper() or (
        "US" if "wise us" in name else "BE" if "wise europe" in name
        else "GB" if "wise payments" in name else ""
    )  # fmt: skip


def wise_holder_summary(institution: Institution) -> str:
    """`Held by Wise US Inc. (US): your decision`."""
    country = _wise_country(institution)
    where = f" ({country})" if country else ""
    return f"Held by {institution.name or 'Wise'}{where}: your decision"


def wise_holder_note(institution: Institution) -> str:
    """Who holds a Wise balance and why flagging it foreign is the owner's call: the
    explanation the FBAR page shows beside each Wise account."""
    name = institution.name or "Wise"
    country = _wise_country(institution)
    if country == "US":
        return (
            f"Held by {name}, a U.S. company. A balance a U.S. institution holds is usually "
            "not a foreign financial account, even in euros or yen; Wise keeps foreign-"
            "currency money with partner banks abroad, though, and some advisers count "
            "those balances. Bulwark cannot tell which view applies to you: the choice is "
            "yours (with your tax adviser), and it is recorded when you make it."
        )
    if country:
        return (
            f"Held by {name} ({country}), outside the United States: an account held "
            "abroad is a foreign financial account for FBAR, whatever its currency. The "
            "choice is yours (with your tax adviser), and it is recorded when you make it."
        )
    return (
        f"Held by {name}; Bulwark does not know its country yet (a statement sync reads it). "
        "An account held abroad is foreign; one held by Wise US Inc. usually is not. The "
        "choice is yours, with your tax adviser."
    )


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

    @property
    def is_wise(self) -> bool:
        return self.institution.kind == Institution.Kind.WISE

    @property
    def holder_summary(self) -> str:
        return wise_holder_summary(self.institution) if self.is_wise else ""

    @property
    def holder_note(self) -> str:
        """For a Wise balance: who holds it, and why the foreign flag is the owner's call."""
        return wise_holder_note(self.institution) if self.is_wise else ""

    @property
    def needs_rate(self) -> bool:
        """Only a positive balance needs a rate to be counted."""
        return self.max_minor > 0 or self.year_end_minor > 0

    @property
    def is_priced(self) -> bool:
        return self.rate is not None or not self.needs_rate


@dataclass(frozen=True)
class Form8938:
    applies: bool  # the owner is a U.S. person
    thresholds: thresholds.Form8938Thresholds
    year_end_usd: int  # of the accounts with a rate: a floor when `complete` is False
    any_time_usd: int
    complete: bool = True  # every counted account that held money has a rate

    @property
    def year_end_over(self) -> bool:
        return self.year_end_usd > self.thresholds.year_end_usd

    @property
    def any_time_over(self) -> bool:
        return self.any_time_usd > self.thresholds.any_time_usd

    @property
    def required(self) -> bool:
        """Over a threshold: required, even when an unpriced account would only add to it."""
        return self.applies and (self.year_end_over or self.any_time_over)

    @property
    def determined(self) -> bool:
        """Whether the answer is known: over a threshold, or under it with every rate."""
        return not self.applies or self.required or self.complete

    @property
    def status(self) -> str:
        """`required`, `not required`, `undetermined` or `not applicable`, the one word
        every place that shows Form 8938 uses."""
        if not self.applies:
            return "not applicable"
        if self.required:
            return "required"
        return "not required" if self.complete else "undetermined"


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
        """Every foreign account that held money has a rate, so the aggregate is whole."""
        return all(row.is_priced for row in self.foreign)

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
            any_time_usd=self.aggregate_usd, complete=self.is_complete,
        )  # fmt: skip

    @property
    def rates(self) -> list[UsdRate]:
        """The distinct rates used, by currency."""
        seen = {row.rate.currency: row.rate for row in self.accounts if row.rate is not None}
        return [seen[code] for code in sorted(seen)]


# --- reading -------------------------------------------------------------------------------


def _accounts(year: int) -> QuerySet[CashAccount]:
    """Accounts open at some point in the year, foreign ones first."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    return (
        CashAccount.objects.select_related("institution", "fbar_details")
        .filter(Q(opened_on__isnull=True) | Q(opened_on__lte=end))
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gte=start))
        .order_by(F("is_foreign_for_fbar").desc(), "institution__name", "currency", "name")
    )


def _origin(source: str) -> str:
    if source == LINES:
        return DAILY
    return BY_HAND if source == MANUAL_SOURCE else source_label(source)


def _observations(year: int, as_of: date) -> tuple[list[CashAccount], dict[int, list[Observation]]]:
    """The year's accounts and each one's balances in the year, oldest first: the balance
    carried into January 1, then one per day it moved, as every page shows them (three
    queries, `accounts.balances`)."""
    start = date(year, 1, 1)
    window = balance_window(after=start - timedelta(days=1), until=as_of, accounts=_accounts(year))
    found: dict[int, list[Observation]] = {}
    for account in window.accounts:
        first_day = max(start, account.opened_on) if account.opened_on else start
        carried = account.balance.minor  # type: ignore[attr-defined]
        found[account.pk] = [Observation(on=first_day, minor=carried, origin=CARRIED_IN)]
    for account_id, day, closing, _inflow, _outflow, source in window.rows:
        found[account_id].append(Observation(day, closing, _origin(source)))
    return window.accounts, found


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
        if not minor:
            return 0  # a zero balance needs no rate
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
    accounts, observations = _observations(year, as_of)
    # Only a positive balance needs a rate: an account that held nothing asks for none.
    priced = {a.currency for a in accounts if any(o.minor > 0 for o in observations[a.pk])}
    rates, missing = usd_rates(
        priced, year=year, on=year_end if final else as_of, final=final
    )  # fmt: skip
    rows = [
        _account_year(account, observations[account.pk], rates.get(account.currency), year=year)
        for account in accounts
    ]
    aggregate = sum(row.max_usd for row in rows if row.is_foreign and row.max_usd is not None)
    warned, crossed = _first_days_over(observations, rows)
    foreign_currencies = {row.currency for row in rows if row.is_foreign and row.needs_rate}
    return FbarYear(
        year=year, as_of=as_of, is_current=not final, settings=settings, accounts=rows,
        missing_rates={c: text for c, text in missing.items() if c in foreign_currencies},
        aggregate_usd=aggregate, warned_on=warned, crossed_on=crossed,
    )  # fmt: skip


# --- the monitor's stored results ----------------------------------------------------------


def monitor_states(*, years: list[int], with_filing: bool = False) -> dict[int, MonitorState]:
    """The monitor's latest result for each year asked (one query); `with_filing` adds
    `filed_on`, the day the owner recorded the year's FinCEN 114 as filed, or None."""
    states = MonitorState.objects.filter(year__in=years)
    if with_filing:
        filed = FbarFiling.objects.filter(year=OuterRef("year")).values("filed_on")[:1]
        states = states.annotate(filed_on=Subquery(filed))
    return {state.year: state for state in states}


def monitored_years(today: date) -> list[int]:
    """The current year and the previous one: last year's filing is due, extended, overdue
    or filed, and the dashboard follows it from the stored result (a final year costs a
    few milliseconds)."""
    return [today.year, today.year - 1]


RECORDS_YEARS = 6  # this year and the five before: FinCEN asks filers to keep records five years


def first_data_year() -> int | None:
    """The first year any account held a balance Bulwark knows of (one query over
    indexed columns), or None when there is none yet."""
    first_daily = DailyBalance.objects.filter(account=OuterRef("pk")).order_by("date")
    first_report = BalanceSnapshot.objects.filter(account=OuterRef("pk")).order_by("taken_at")
    found = CashAccount.objects.annotate(
        first_daily=Subquery(first_daily.values("date")[:1]),
        first_report=Subquery(first_report.values("taken_at")[:1]),
    ).aggregate(opened=Min("opened_on"), daily=Min("first_daily"), report=Min("first_report"))
    years = [value.year for value in found.values() if value is not None]
    return min(years) if years else None


def report_years(today: date, *, first: int | None = None) -> list[int]:
    """Years offered on the report page, newest first: this one and the five before,
    from the first year with data on (a year before any data has nothing to report)."""
    first = first if first is not None else first_data_year()
    if first is None:
        return [today.year]
    oldest = max(today.year - RECORDS_YEARS + 1, min(first, today.year))
    return list(range(today.year, oldest - 1, -1))


def default_report_year(today: date, years: list[int] | None = None) -> int:
    """Last year while its FBAR can still be filed on time (to October 15), else this one
    (this one, too, when last year is not offered)."""
    years = report_years(today) if years is None else years
    last = today.year - 1
    return last if today <= thresholds.fbar_due(last)[1] and last in years else today.year


# --- filing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filing:
    """Where a year's FinCEN 114 stands for the owner: its one line, for page and panel."""

    state: str  # "filed", "overdue", "extended", "due", "not required", "open"
    label: str
    detail: str
    level: str  # ok, info, warn, error

    @property
    def is_overdue(self) -> bool:
        return self.state == "overdue"


def filing_of(year: int) -> FbarFiling | None:
    return FbarFiling.objects.filter(year=year).first()


def filing_state(
    *, year: int, required: bool, filed_on: date | None, today: date, current: bool = False
) -> Filing:
    """Filed, overdue after the extended deadline, in the automatic extension, or due."""
    due, extended = thresholds.fbar_due(year)
    if filed_on is not None:
        return Filing("filed", f"Filed on {date_text(filed_on)}", "Recorded by the owner.", "ok")
    if current:
        return Filing(
            "open", f"Due {date_text(due)}",
            f"If required: {year} is not over. Extended automatically to {date_text(extended)}.",
            "info",
        )  # fmt: skip
    if not required:
        return Filing("not required", "Not required", f"Due {date_text(due)} if it were.", "ok")
    if today > extended:
        late = (today - extended).days
        return Filing(
            "overdue", f"Overdue since {date_text(extended + timedelta(days=1))}",
            f"The extended deadline, {date_text(extended)}, passed {late} day"
            f"{'s' if late != 1 else ''} ago. File now (late filings with a reason are "
            "accepted; penalties can apply), then record the day here.",
            "error",
        )  # fmt: skip
    if today > due:
        return Filing(
            "extended", f"Due {date_text(extended)}",
            f"{date_text(due)} has passed; the automatic extension runs to "
            f"{date_text(extended)}, no request needed.",
            "warn",
        )  # fmt: skip
    return Filing(
        "due", f"Due {date_text(due)}",
        f"Extended automatically to {date_text(extended)}, no request needed.", "warn",
    )  # fmt: skip
