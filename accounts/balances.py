"""One balance per account per day, whatever the source: the selector every page, export,
the FBAR and reconciliation read balances through.

Sources, as stored:

- **lines** (Wise API, statement files): each day with lines has a `DailyBalance` row,
  its closing;
- **reported balances**: `BalanceSnapshot` rows, whatever their source (Wise's balance as
  read at a sync, a statement's closing balance, a month-end balance entered by hand);
- the account's **opening balance** (the balance before its first line).

The rule: an account's balance at the end of a day is

1. on a day inside the span of its lines (from its first day with lines to its last), the
   closing of the latest day with lines on or before it: the lines are the record there,
   and a reported balance that disagrees is a proof's business (Accounts page), not a
   second figure;
2. before its first line day, the latest reported balance by then, else its opening;
3. after its last line day, the latest reported balance taken after that day, else that
   day's closing;
4. an account without lines: the latest reported balance by then, else its opening.

So a hand-entered month-end balance stands until the next one, a Wise balance read today
counts before today's lines are fetched, and the same account and day give one figure on
every page. Reported balances are read one per account and day (the day's last); the
window reader touches only those outside the lines' spans, so an API-fed account costs no
more than its daily rows.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    CharField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import Cast, RowNumber, TruncDate

from accounts.models import BalanceSnapshot, CashAccount, DailyBalance
from treasury.money import from_minor

LINES = "LINES"  # the figure is a daily closing of the account's lines
OPENING = "OPENING"  # the balance before the account's first line (or nothing known)
ONE_DAY = timedelta(days=1)


def _day_end(day: date) -> datetime:
    """The first instant after `day` (UTC): a reported balance of `day` is before it."""
    return datetime.combine(day + ONE_DAY, time.min, tzinfo=UTC)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Balance:
    """An account's balance at the end of a day, and where it comes from."""

    minor: int
    currency: str
    source: str  # LINES, OPENING, or the reported balance's source (WISE, MANUAL, CSV, ...)
    observed_on: date | None  # the day of the closing or report it carries (None: opening)

    @property
    def amount(self) -> Decimal:
        return from_minor(self.minor, self.currency)

    @property
    def is_reported(self) -> bool:
        return self.source not in (LINES, OPENING)


SOURCE_LABELS = {
    LINES: "from the lines",
    OPENING: "opening balance",
    "WISE": "reported by Wise",
    "MANUAL": "entered by hand",
    "CSV": "statement file",
    "CAMT053": "statement file",
    "MT940": "statement file",
}


def source_label(source: str) -> str:
    """How a page names where a balance comes from."""
    return SOURCE_LABELS.get(source, f"reported ({source.lower()})")


def _decide(
    *,
    on: date,
    opening: int,
    first: date | None,
    last: date | None,
    daily: tuple[date, int] | None,
    report: tuple[date, int, str] | None,
) -> tuple[int, str, date | None]:
    """The rule above for one account and day. `daily` is the latest line closing on or
    before the day; `report` the latest reported balance by its end."""
    if first is None or last is None or on < first:
        if report is not None:
            return report[1], report[2], report[0]
        return opening, OPENING, None
    assert daily is not None  # a day inside or after the span has a closing before it
    if on > last and report is not None and report[0] > last:
        return report[1], report[2], report[0]
    return daily[1], LINES, daily[0]


def _annotated(accounts: QuerySet[CashAccount], on: date) -> QuerySet[CashAccount]:
    """The columns `_decide` needs, as subqueries of the accounts query (one query)."""
    rows = DailyBalance.objects.filter(account=OuterRef("pk")).order_by()
    span = rows.values("account")
    latest = rows.filter(date__lte=on).order_by("-date")
    reports = BalanceSnapshot.objects.filter(
        account=OuterRef("pk"), taken_at__lt=_day_end(on)
    ).order_by("-taken_at")
    return accounts.annotate(
        _first_day=Subquery(span.annotate(v=Min("date")).values("v")[:1]),
        _last_day=Subquery(span.annotate(v=Max("date")).values("v")[:1]),
        _daily_on=Subquery(latest.values("date")[:1]),
        _daily_minor=Subquery(latest.values("closing_minor")[:1]),
        _report_at=Subquery(reports.values("taken_at")[:1]),
        _report_minor=Subquery(reports.values("balance_minor")[:1]),
        _report_source=Subquery(reports.values("source")[:1]),
    )


def _balance_of(account: Any, on: date) -> Balance:
    daily = None if account._daily_on is None else (account._daily_on, account._daily_minor)
    report = None
    if account._report_at is not None:
        report = (
            account._report_at.astimezone(UTC).date(),
            account._report_minor,
            account._report_source,
        )
    minor, source, observed = _decide(
        on=on, opening=account.opening_balance_minor, first=account._first_day,
        last=account._last_day, daily=daily, report=report,
    )  # fmt: skip
    return Balance(minor=minor, currency=account.currency, source=source, observed_on=observed)


def accounts_with_balance(
    *, on: date, accounts: QuerySet[CashAccount] | None = None
) -> list[CashAccount]:
    """The accounts (every one, or `accounts`), each with `balance` (a `Balance`) and
    `balance_minor` at the end of `on`, in one query."""
    base = accounts if accounts is not None else CashAccount.objects.select_related("institution")
    found = list(_annotated(base, on))
    for account in found:
        account.balance = _balance_of(account, on)  # type: ignore[attr-defined]
        account.balance_minor = account.balance.minor  # type: ignore[attr-defined]
    return found


def balances_on(*, on: date, account_ids: Iterable[int] | None = None) -> dict[int, Balance]:
    """Each account's balance at the end of `on` (one query)."""
    accounts = CashAccount.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    return {a.pk: a.balance for a in accounts_with_balance(on=on, accounts=accounts)}  # type: ignore[attr-defined]


def balance_on(*, account: CashAccount, on: date) -> Balance:
    return balances_on(on=on, account_ids=[account.pk])[account.pk]


# --- a window of days ------------------------------------------------------------------------


@dataclass
class Timeline:
    """One account's balances over a window: the balance carried into it and one point per
    day whose figure moved (or that had lines), oldest first."""

    account: CashAccount
    carry: Balance
    days: list[date] = field(default_factory=list)
    closings: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def closing(self, day: date) -> int:
        index = bisect_right(self.days, day)
        return self.closings[index - 1] if index else self.carry.minor

    def on(self, day: date) -> Balance:
        index = bisect_right(self.days, day)
        if not index:
            return self.carry
        return Balance(
            self.closings[index - 1], self.account.currency, self.sources[index - 1],
            self.days[index - 1],
        )  # fmt: skip


@dataclass(frozen=True)
class BalanceWindow:
    """The balances of some accounts over (after, until]: the accounts with their carried
    balance at the end of `after`, and every point of the window as
    `(account_id, day, closing, inflow, outflow, source)` in day order. A reported balance
    moves the figure without lines; its change counts as that day's flow, so flows always
    add up to the change of the balance."""

    accounts: list[CashAccount]
    rows: list[tuple[int, date, int, int, int, str]]

    def timelines(self) -> dict[int, Timeline]:
        found = {a.pk: Timeline(a, a.balance) for a in self.accounts}  # type: ignore[attr-defined]
        for account_id, day, closing, _inflow, _outflow, source in self.rows:
            timeline = found[account_id]
            timeline.days.append(day)
            timeline.closings.append(closing)
            timeline.sources.append(source)
        return found


def balance_window(
    *, after: date, until: date, accounts: QuerySet[CashAccount] | None = None
) -> BalanceWindow:
    """Balances of the accounts (every one, or `accounts`) over the days after `after` up
    to `until`, in three queries whatever the number of lines: the accounts with their
    carried balance, the window's daily rows, and its reported balances outside the
    accounts' line spans (one per account and day)."""
    found = accounts_with_balance(on=after, accounts=accounts)
    if not found:
        return BalanceWindow([], [])
    by_pk = {a.pk: a for a in found}
    points: dict[int, list[tuple[date, int, int, int, str]]] = {pk: [] for pk in by_pk}
    for account_id, day, closing, inflow, outflow in _daily_rows(list(by_pk), after, until):
        points[account_id].append((day, closing, inflow, outflow, LINES))
    for account_id, day, minor, source in _reports_outside_spans(found, after, until):
        points[account_id].append((day, minor, 0, 0, source))
    rows = []
    for pk, items in points.items():
        items.sort(key=lambda item: item[0])
        previous = by_pk[pk].balance.minor  # type: ignore[attr-defined]
        for day, closing, inflow, outflow, source in items:
            # A reported balance, or the first line day after one: the part of the change
            # the lines do not explain is a flow of its own.
            unexplained = closing - previous - inflow - outflow
            if unexplained > 0:
                inflow += unexplained
            elif unexplained < 0:
                outflow += unexplained
            if source == LINES or closing != previous:
                rows.append((pk, day, closing, inflow, outflow, source))
            previous = closing
    rows.sort(key=lambda row: row[1])
    return BalanceWindow(found, rows)


def _daily_rows(
    account_ids: list[int], after: date, until: date
) -> list[tuple[int, date, int, int, int]]:
    """The window's daily rows as plain tuples, oldest first: the ORM's SQL run on the
    cursor, since Django's per-row converters would cost more than everything a page does
    with a row. PostgreSQL's driver returns dates; SQLite's would parse each day's text
    with a regular expression (a third of this read at 4,000 rows), so there the text
    comes back as is and each distinct day is made once (the accounts share their days).
    """
    rows = DailyBalance.objects.filter(
        account_id__in=account_ids, date__gt=after, date__lte=until
    ).order_by("date")
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        rows = rows.annotate(day_text=Cast("date", output_field=CharField()))
    query = rows.values_list(
        "account_id", "day_text" if sqlite else "date", "closing_minor", "inflow_minor",
        "outflow_minor",
    )  # fmt: skip
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if not sqlite:
        return found
    days: dict[str, date] = {}
    return [
        (account_id, days.get(text) or days.setdefault(text, date.fromisoformat(text)),
         closing, inflow, outflow)
        for account_id, text, closing, inflow, outflow in found
    ]  # fmt: skip


def _reports_outside_spans(
    accounts: list[CashAccount], after: date, until: date
) -> list[tuple[int, date, int, str]]:
    """The last reported balance of each account and day in (after, until] that the rule
    lets stand: before the account's first line day or after its last (one query)."""
    without_lines = [a.pk for a in accounts if a._first_day is None]  # type: ignore[attr-defined]
    spans = Q(account_id__in=without_lines)
    for account in accounts:
        first, last = account._first_day, account._last_day  # type: ignore[attr-defined]
        if first is not None:
            spans |= Q(account_id=account.pk) & (
                Q(taken_at__lt=_day_start(first)) | Q(taken_at__gte=_day_end(last))
            )
    day = TruncDate("taken_at", tzinfo=UTC)
    reports = (
        BalanceSnapshot.objects.filter(spans, taken_at__gte=_day_end(after))
        .filter(taken_at__lt=_day_end(until))
        .annotate(
            day=day,
            rank=Window(
                RowNumber(), partition_by=[F("account_id"), day], order_by=F("taken_at").desc()
            ),
        )
        .filter(rank=1)
        .values_list("account_id", "day", "balance_minor", "source")
    )
    return list(reports)
