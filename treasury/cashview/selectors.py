"""The numbers of the cash view, from precomputed daily balances and one rate book.

Balances come from `accounts.balances`, the one selector every page uses. What is read,
whatever the length of the history: the cash accounts with their balance on the day
before the window (one query), the daily rows inside the window (one query: at most one
row per account and day, so its size follows the window and the number of accounts,
never the number of lines), the reported balances inside the window that stand where no
lines do (one query: a month-end balance entered by hand counts like a day with lines),
one `RateBook` for the window (plus one for today under the "today" policy on a past
date), and the proof provider if one is registered. Transactions are never summed here.

Valuation (the rate-date policy, as `treasury.fx.policy`): a balance or flow of day `t`
converts at the rate of `t` ("as of the date"), of the as-of date ("period end") or of
today ("today"). Each currency's converted amount is rounded half-even at the base
currency's minor unit, and the total is the sum of those rounded amounts, so the table
adds up. A currency with a non-zero amount and no rate is left out of the total, which
then says it is incomplete; an amount of zero needs no rate.

FX effect: over any interval, with every figure at its own day's rate,
    change in total = sum(flow of day d * rate of day d) + revaluation,
where the revaluation is what the rates did to the balances held (exact, by
telescoping: B(d)r(d) - B(d-1)r(d-1) = (B(d) - B(d-1))r(d) + B(d-1)(r(d) - r(d-1))).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import urlencode

from dateutil.relativedelta import relativedelta

from accounts.balances import Balance, Timeline, balance_window
from accounts.models import CashAccount
from treasury.cashview.status import proof_dates
from treasury.charts import PALETTE
from treasury.fx.convert import PRECISION, Conversion, RateBook, RateMissing
from treasury.fx.models import Source
from treasury.fx.policy import PolicyNote, RateDatePolicy, policy_note, rate_date_for
from treasury.fx.selectors import currency_name
from treasury.money import from_minor, minor_units, quantize

RANGE_MONTHS: dict[str, int | None] = {"3m": 3, "1y": 12, "3y": 36, "all": None}
DEFAULT_RANGE = "1y"
SOURCES = (Source.ECB, Source.TREASURY, Source.WISE)
CHANGE_DAYS = (30, 90, 365)
CHART_POINTS = 180  # samples of the balance chart, whatever the range
# The charts' palette without its red, which the dashboard keeps for money going out.
COLORS = tuple(color for color in PALETTE if color != "#dc2626")
ROUNDING = ROUND_HALF_EVEN
ZERO = Decimal(0)
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Choices:
    """What the dashboard shows; every field lives in the URL."""

    base: str
    as_of: date
    policy: RateDatePolicy
    range: str
    source: str
    today: date

    def params(self, **changes: Any) -> dict[str, str]:
        values = {
            "base": self.base,
            "as_of": self.as_of.isoformat(),
            "policy": self.policy.value,
            "range": self.range,
            "source": self.source,
        }
        values.update({key: str(value) for key, value in changes.items()})
        return values

    def query(self, **changes: Any) -> str:
        return urlencode(self.params(**changes))

    def rate_day(self, day: date) -> date:
        """The day whose rate converts a figure of `day` under the policy."""
        return rate_date_for(
            self.policy, transaction_date=day, period_end=self.as_of, today=self.today
        )


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountLine:
    account: CashAccount
    native: Decimal
    converted: Decimal | None
    proved_to: date | None = None
    balance: Balance | None = None  # where the figure comes from (lines, a report, …)


@dataclass(frozen=True)
class CurrencyRow:
    currency: str
    name: str
    color: str
    native: Decimal
    converted: Decimal | None  # rounded; None: no rate for a non-zero amount
    conversion: Conversion | None  # 1 unit of the currency in the base
    missing: RateMissing | None
    share: Decimal | None  # percent of the total, one decimal
    changes: list[tuple[int, Decimal]]  # (days, native change)
    accounts: list[AccountLine]

    @property
    def excluded(self) -> bool:
        return self.converted is None


@dataclass(frozen=True)
class Change:
    days: int
    amount: Decimal | None  # None: a rate is missing at one end
    percent: Decimal | None
    missing: str = ""


@dataclass(frozen=True)
class Total:
    base: str
    amount: Decimal  # the sum of the rows that could be converted
    excluded: list[CurrencyRow]
    changes: list[Change]
    rate_day: date

    @property
    def complete(self) -> bool:
        return not self.excluded


@dataclass(frozen=True)
class FxEffect:
    """Change of the total over the range, split into flows and revaluation."""

    start: date
    end: date
    opening: Decimal | None
    closing: Decimal | None
    flows: Decimal | None
    revaluation: Decimal | None
    months: list[str]
    month_flows: list[Decimal | None]
    month_revaluation: list[Decimal | None]

    @property
    def change(self) -> Decimal | None:
        if self.opening is None or self.closing is None:
            return None
        return self.closing - self.opening


@dataclass(frozen=True)
class History:
    start: date  # the range's opening day
    end: date
    stack: list[tuple[str, str, list[tuple[date, Decimal | None]]]]  # currency, colour, points
    months: list[str]
    inflow: list[Decimal | None]
    outflow: list[Decimal | None]
    fx: FxEffect


@dataclass(frozen=True)
class CashView:
    choices: Choices
    rows: list[CurrencyRow]
    total: Total
    history: History
    currencies: list[str]  # every currency of an account, sorted
    proof_enabled: bool
    rates_found: bool  # the book held any rate of the source at all
    note: PolicyNote  # what the policy note under the total says


# --- building blocks -----------------------------------------------------------------------


# Conversions are a function of the rate books (their parameters and every rate they
# loaded) and the base alone, so renders that load equal books share their answers: the
# next render, or another user's, converts nothing afresh (a fifth of the dashboard's
# time at a year's range, measured with bench/dashboard.py). A rate stored, changed or
# removed changes the books' fingerprint: nothing stale is ever read.
_SHARED_MEMOS: OrderedDict[tuple[Any, ...], tuple[dict, dict, set]] = OrderedDict()
SHARED_MEMOS_KEPT = 4


def _shared_memo(key: tuple[Any, ...]) -> tuple[dict, dict, set]:
    found = _SHARED_MEMOS.get(key)
    if found is None:
        found = _SHARED_MEMOS[key] = ({}, {}, set())
        while len(_SHARED_MEMOS) > SHARED_MEMOS_KEPT:
            _SHARED_MEMOS.popitem(last=False)
    return found


class DayRates:
    """1 unit of a currency in the base on a day, memoised (shared between instances on
    equal books unless `shared=False`); None when there is none."""

    def __init__(self, books: list[RateBook], base: str, *, shared: bool = True) -> None:
        self._books, self.base = books, base
        memos = (
            _shared_memo((base, *(book.fingerprint for book in books)))
            if shared
            else ({}, {}, set())
        )
        self._memo: dict[tuple[str, date], Conversion | None] = memos[0]
        self.errors: dict[tuple[str, date], RateMissing] = memos[1]
        self._filled: set[tuple[str, date, date]] = memos[2]

    def get(self, currency: str, day: date) -> Conversion | None:
        key = (currency, day)
        if key in self._memo:
            return self._memo[key]
        book = next(b for b in self._books if b.start <= day <= b.end)
        try:
            found: Conversion | None = book.rate(currency, self.base, on=day)
        except RateMissing as exc:
            found = None
            self.errors[key] = exc
        self._memo[key] = found
        return found

    def fill(self, currencies: Iterable[str], start: date, end: date) -> None:
        """Every day's conversion from `start` to `end` (inside the first book), at a cost
        that follows the number of days, not of lines. A rate can only change on a day
        the book holds a new rate for (of the source or an override), or when the oldest
        rate used ages out of the window; on any other day the previous answer stands."""
        book = self._books[0]
        changes: set[date] | None = None
        for code in set(currencies) - {self.base}:  # the base converts to itself, dated
            if (code, start, end) in self._filled:
                continue
            if changes is None:
                changes = book.dates(book.source, start, end) | book.dates(
                    Source.MANUAL, start, end
                )
            current: Conversion | None = None
            valid_until = date.min
            day = start
            while day <= end:
                if current is None or day > valid_until or day in changes:
                    current = self.get(code, day)
                    valid_until = _valid_until(current, book.window_days)
                else:
                    self._memo[(code, day)] = current
                day += ONE_DAY
            self._filled.add((code, start, end))

    def value(self, currency: str, minor: int, day: date) -> Decimal | None:
        """`minor` units of `currency` in the base at `day`'s rate, unrounded; zero
        needs no rate."""
        if not minor:
            return ZERO
        conversion = self.get(currency, day)
        if conversion is None:
            return None
        return PRECISION.multiply(Decimal(minor).scaleb(-minor_units(currency)), conversion.rate)


def _valid_until(conversion: Conversion | None, window_days: int) -> date:
    """The last day every rate behind `conversion` is still inside the window."""
    if conversion is None:
        return date.min
    return min(leg.date for leg in conversion.legs) + timedelta(days=window_days)


def _window(choices: Choices) -> tuple[date | None, date]:
    """The range's opening day (None for "all": known once the rows are read) and the
    earliest day any figure needs."""
    months = RANGE_MONTHS[choices.range]
    change_floor = choices.as_of - timedelta(days=max(CHANGE_DAYS))
    if months is None:
        return None, date.min
    opening = choices.as_of - relativedelta(months=months)
    return opening, min(opening, change_floor)


def _sample_days(first: date, last: date, points: int) -> list[date]:
    span = (last - first).days
    step = max(1, -(-span // points))
    days = [first + timedelta(days=n) for n in range(0, span + 1, step)]
    return days if days[-1] == last else [*days, last]


def _month_ends(opening: date, last: date) -> list[date]:
    """The last day of each month strictly between `opening` and `last`."""
    ends = []
    day = opening + relativedelta(day=31)
    while day < last:
        if day > opening:
            ends.append(day)
        day = (day + timedelta(days=1)) + relativedelta(day=31)
    return ends


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUNDING)


# --- the view --------------------------------------------------------------------------------


def cash_view(*, choices: Choices) -> CashView | None:
    """Everything the dashboard shows for `choices`; None when there is no cash account."""
    opening, floor = _window(choices)
    as_of, base = choices.as_of, choices.base
    window = balance_window(
        after=floor, until=as_of,
        accounts=CashAccount.objects.select_related("institution").order_by("currency", "name"),
    )  # fmt: skip
    accounts = window.accounts
    if not accounts:
        return None
    ledgers = window.timelines()
    flows: dict[str, dict[date, list[int]]] = {a.currency: {} for a in accounts}
    days_of = {a.pk: flows[a.currency] for a in accounts}
    for account_id, day, _closing, inflow, outflow, _source in window.rows:
        by_day = days_of[account_id]
        if day in by_day:
            by_day[day][0] += inflow
            by_day[day][1] += outflow
        else:
            by_day[day] = [inflow, outflow]
    if opening is None:
        first = min((ledger.days[0] for ledger in ledgers.values() if ledger.days), default=as_of)
        opening = first - timedelta(days=1)
    opening = min(opening, as_of - timedelta(days=1))
    currencies = sorted(flows)
    codes = {*currencies, base}
    rate_start = min(opening, as_of - timedelta(days=max(CHANGE_DAYS)))
    books = [RateBook.load(source=choices.source, currencies=codes, start=rate_start, end=as_of)]
    if choices.policy == RateDatePolicy.TODAY and choices.today > as_of:
        books.append(RateBook.load(source=choices.source, currencies=codes, on=choices.today))
    rates = DayRates(books, base)
    rates.fill(currencies, opening, as_of)
    state = _State(choices, list(ledgers.values()), flows, rates, currencies)
    rows_shown = state.currency_rows()
    total = state.total(rows_shown)
    return CashView(
        choices=choices,
        rows=rows_shown,
        total=total,
        history=state.history(opening),
        currencies=currencies,
        proof_enabled=state.proof_enabled,
        rates_found=any(book.quoted_currencies(choices.source) for book in books),
        note=policy_note(choices.policy, source=choices.source, rate_date=total.rate_day),
    )


class _State:
    """The window's balances, flows and rates, and the figures computed from them."""

    def __init__(
        self,
        choices: Choices,
        ledgers: list[Timeline],
        flows: dict[str, dict[date, list[int]]],
        rates: DayRates,
        currencies: list[str],
    ) -> None:
        self.choices, self.ledgers, self.flows, self.rates = choices, ledgers, flows, rates
        self.currencies = currencies
        self.colors = {code: COLORS[n % len(COLORS)] for n, code in enumerate(currencies)}
        self.proof_enabled = False

    def native(self, day: date) -> dict[str, int]:
        totals = dict.fromkeys(self.currencies, 0)
        for ledger in self.ledgers:
            totals[ledger.account.currency] += ledger.closing(day)
        return totals

    def rounded(self, value: Decimal) -> Decimal:
        return quantize(value, self.choices.base, ROUNDING)

    def valued_total(self, day: date) -> tuple[Decimal, list[str]]:
        """The rounded total at `day` under the policy, and the currencies without a rate."""
        amount, missing = ZERO, []
        rate_day = self.choices.rate_day(day)
        for code, minor in self.native(day).items():
            value = self.rates.value(code, minor, rate_day)
            if value is None:
                missing.append(code)
            else:
                amount += self.rounded(value)
        return amount, missing

    # --- the table and the total ------------------------------------------------------------

    def currency_rows(self) -> list[CurrencyRow]:
        as_of = self.choices.as_of
        rate_day = self.choices.rate_day(as_of)
        now = self.native(as_of)
        before = {days: self.native(as_of - timedelta(days=days)) for days in CHANGE_DAYS}
        shown = [
            ledger for ledger in self.ledgers if ledger.account.is_active or ledger.closing(as_of)
        ]
        proofs = proof_dates([ledger.account.pk for ledger in shown])
        self.proof_enabled = proofs is not None
        rows = []
        for code in sorted({ledger.account.currency for ledger in shown}):
            conversion = self.rates.get(code, rate_day)
            value = self.rates.value(code, now[code], rate_day)
            lines = [
                self._account_line(ledger, conversion, proofs)
                for ledger in shown
                if ledger.account.currency == code
            ]
            rows.append(
                CurrencyRow(
                    currency=code,
                    name=currency_name(code),
                    color=self.colors[code],
                    native=from_minor(now[code], code),
                    converted=None if value is None else self.rounded(value),
                    conversion=conversion,
                    missing=self.rates.errors.get((code, rate_day)),
                    share=None,
                    changes=[
                        (days, from_minor(now[code] - before[days][code], code))
                        for days in CHANGE_DAYS
                    ],
                    accounts=lines,
                )
            )
        known = sum((row.converted for row in rows if row.converted is not None), ZERO)
        rows = [
            replace(row, share=None if row.converted is None else _percent(row.converted, known))
            for row in rows
        ]
        return sorted(
            rows, key=lambda row: (row.converted is None, -(row.converted or ZERO), row.currency)
        )

    def _account_line(
        self,
        ledger: Timeline,
        conversion: Conversion | None,
        proofs: dict[int, date | None] | None,
    ) -> AccountLine:
        account = ledger.account
        native = from_minor(ledger.closing(self.choices.as_of), account.currency)
        converted = None
        if conversion is not None:
            converted = self.rounded(PRECISION.multiply(native, conversion.rate))
        elif not native:
            converted = ZERO
        proved = proofs.get(account.pk) if proofs else None
        return AccountLine(
            account=account, native=native, converted=converted, proved_to=proved,
            balance=ledger.on(self.choices.as_of),
        )  # fmt: skip

    def total(self, rows: list[CurrencyRow]) -> Total:
        as_of = self.choices.as_of
        amount = sum((row.converted for row in rows if row.converted is not None), ZERO)
        changes = []
        now_total, now_missing = self.valued_total(as_of)
        for days in CHANGE_DAYS:
            past = as_of - timedelta(days=days)
            past_total, past_missing = self.valued_total(past)
            missing = sorted(set(now_missing) | set(past_missing))
            if missing:
                changes.append(
                    Change(days, None, None, f"No rate for {', '.join(missing)} on one end")
                )
                continue
            delta = now_total - past_total
            changes.append(Change(days, delta, _percent(delta, past_total)))
        return Total(
            base=self.choices.base,
            amount=amount,
            excluded=[row for row in rows if row.excluded],
            changes=changes,
            rate_day=self.choices.rate_day(as_of),
        )

    # --- charts ----------------------------------------------------------------------------

    def history(self, opening: date) -> History:
        as_of = self.choices.as_of
        stack = []
        samples = _sample_days(opening, as_of, CHART_POINTS)
        natives = {day: self.native(day) for day in samples}
        for code in self.currencies:
            if not any(natives[day][code] for day in samples):
                continue
            points: list[tuple[date, Decimal | None]] = []
            for day in samples:
                value = self.rates.value(code, natives[day][code], self.choices.rate_day(day))
                points.append((day, None if value is None else self.rounded(value)))
            stack.append((code, self.colors[code], points))
        ends = [*_month_ends(opening, as_of), as_of]
        months = [f"{end:%b %Y}" for end in ends]
        own, native = self._month_flows(opening, ends)
        if self.choices.policy == RateDatePolicy.TRANSACTION_DATE:
            in_out = own
        else:
            in_out = [self._at_one_rate(sums) for sums in native]
        return History(
            start=opening,
            end=as_of,
            stack=stack,
            months=months,
            inflow=[None if pair is None else self.rounded(pair[0]) for pair in in_out],
            outflow=[None if pair is None else self.rounded(pair[1]) for pair in in_out],
            fx=self._fx_effect(opening, ends, months, own),
        )

    def _month_flows(
        self, opening: date, ends: list[date]
    ) -> tuple[list[list[Decimal] | None], list[dict[str, list[int]]]]:
        """Per month: [in, out] in the base with each day at its own rate (None when a
        day with a flow has no rate), and per currency the native [in, out] minor units."""
        own: list[list[Decimal] | None] = [[ZERO, ZERO] for _ in ends]
        native: list[dict[str, list[int]]] = [{} for _ in ends]
        last, get, multiply = ends[-1], self.rates.get, PRECISION.multiply
        for code, by_day in self.flows.items():
            scale = -minor_units(code)
            for day, (inflow, outflow) in by_day.items():
                if not opening < day <= last:
                    continue
                month = bisect_left(ends, day)
                sums = native[month].setdefault(code, [0, 0])
                sums[0] += inflow
                sums[1] += outflow
                bucket = own[month]
                if bucket is None:
                    continue
                conversion = get(code, day)
                if conversion is None:
                    own[month] = None
                    continue
                bucket[0] += multiply(Decimal(inflow).scaleb(scale), conversion.rate)
                bucket[1] += multiply(Decimal(outflow).scaleb(scale), conversion.rate)
        return own, native

    def _at_one_rate(self, sums: dict[str, list[int]]) -> list[Decimal] | None:
        """A month's native in and out at the policy's one rate day (period end, today)."""
        day = self.choices.rate_day(self.choices.as_of)
        pair = [ZERO, ZERO]
        for code, (inflow, outflow) in sums.items():
            money_in = self.rates.value(code, inflow, day)
            money_out = self.rates.value(code, outflow, day)
            if money_in is None or money_out is None:
                return None
            pair[0] += money_in
            pair[1] += money_out
        return pair

    def _market_total(self, day: date) -> Decimal | None:
        amount = ZERO
        for code, minor in self.native(day).items():
            value = self.rates.value(code, minor, day)
            if value is None:
                return None
            amount += value
        return amount

    def _fx_effect(
        self, opening: date, ends: list[date], months: list[str],
        own: list[list[Decimal] | None],
    ) -> FxEffect:  # fmt: skip
        """Per month and over the range: flows at each day's own rate and the rest of
        the change, the revaluation (always at market rates, whatever the policy)."""
        values = [self._market_total(day) for day in [opening, *ends]]
        nets = [None if pair is None else pair[0] + pair[1] for pair in own]
        month_flows: list[Decimal | None] = []
        month_revaluation: list[Decimal | None] = []
        for n, net in enumerate(nets):
            before, after = values[n], values[n + 1]
            if net is None or before is None or after is None:
                month_flows.append(None)
                month_revaluation.append(None)
                continue
            month_flows.append(self.rounded(net))
            month_revaluation.append(self.rounded(after - before - net))
        flows = None if None in nets else sum(nets, ZERO)  # type: ignore[arg-type]
        opening_value, closing_value = values[0], values[-1]
        revaluation = None
        if flows is not None and opening_value is not None and closing_value is not None:
            revaluation = self.rounded(closing_value - opening_value - flows)
        return FxEffect(
            start=opening,
            end=ends[-1],
            opening=None if opening_value is None else self.rounded(opening_value),
            closing=None if closing_value is None else self.rounded(closing_value),
            flows=None if flows is None else self.rounded(flows),
            revaluation=revaluation,
            months=months,
            month_flows=month_flows,
            month_revaluation=month_revaluation,
        )


# --- the first run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstRun:
    """What a fresh install has done so far, for the guided first page."""

    xero_organisation: str | None
    xero_mode: str | None
    mode_chosen: bool
    latest_rate: date | None


def first_run_state() -> FirstRun:
    from django.db.models import Max

    from ledger.models import BooksConnection
    from treasury.fx.models import Rate

    connection = (
        BooksConnection.objects.filter(status=BooksConnection.Status.CONNECTED)
        .select_related("organisation")
        .first()
    )
    organisation = connection.organisation if connection else None
    return FirstRun(
        xero_organisation=organisation.name if organisation else None,
        xero_mode=organisation.get_mode_display() if organisation else None,
        mode_chosen=bool(organisation and organisation.mode_chosen_at),
        latest_rate=Rate.objects.aggregate(latest=Max("date"))["latest"],
    )
