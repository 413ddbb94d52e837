"""Reads of money held."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from accounts.balances import accounts_with_balance, balance_on
from accounts.models import (
    BalanceGap,
    BalanceSnapshot,
    CashAccount,
    DailyBalance,
    SyncRun,
    Transaction,
    WiseConnection,
)
from accounts.trail import CHAINED_FIELDS, BrokenLink, chain_verify
from treasury.money import from_minor
from treasury.params import int_parse


def balance_minor_on(account: CashAccount, on: date) -> int:
    """The account's balance at the end of `on`, as every page shows it (minor units)."""
    return balance_on(account=account, on=on).minor


def trail_verify(*, account_ids: list[int] | None = None) -> dict[int, BrokenLink | None]:
    """Recompute every chain; per account, its first broken link or None."""
    accounts = CashAccount.objects.order_by("pk")
    if account_ids:
        accounts = accounts.filter(pk__in=account_ids)
    return {account.pk: _account_chain_verify(account) for account in accounts}


def _account_chain_verify(account: CashAccount) -> BrokenLink | None:
    rows: Iterator[dict] = (
        Transaction.objects.filter(account=account)
        .order_by("seq")
        .values(*CHAINED_FIELDS, "raw", "digest", "prev_digest")
        .iterator(chunk_size=5000)
    )
    return chain_verify(account.pk, rows, account.chain_head, account.chain_length)


# --- pages of the Wise feed ---------------------------------------------------------------


def accounts_overview(*, on: date) -> list[CashAccount]:
    """The accounts page in one query: each account's balance on `on` (the one balance
    selector's), the latest reported balance, the open gaps, and its cursor with the last
    run and proof."""
    snapshot = BalanceSnapshot.objects.filter(account=OuterRef("pk")).order_by("-taken_at")
    open_gaps = (
        BalanceGap.objects.filter(account=OuterRef("pk"), resolved_at__isnull=True)
        .order_by()
        .values("account")
        .annotate(n=Count("pk"))
        .values("n")
    )
    accounts = (
        CashAccount.objects.select_related(
            "institution", "statement_cursor", "statement_cursor__last_run"
        )
        .annotate(
            reported_minor=Subquery(snapshot.values("balance_minor")[:1]),
            reported_at=Subquery(snapshot.values("taken_at")[:1]),
            reported_source=Subquery(snapshot.values("source")[:1]),
            open_gap_count=Coalesce(Subquery(open_gaps), 0),
        )
        .order_by("-is_active", "institution__name", "kind", "currency", "name")
    )
    return accounts_with_balance(on=on, accounts=accounts)


def gaps_open() -> QuerySet[BalanceGap]:
    return BalanceGap.objects.filter(resolved_at__isnull=True).select_related("account")


def wise_connections(*, secrets: bool = False) -> QuerySet[WiseConnection]:
    """The connections; their secrets are read (and decrypted) only when asked for."""
    connections = WiseConnection.objects.select_related("institution").order_by("profile_name")
    if not secrets:
        connections = connections.defer("api_token", "sca_private_key", "webhook_public_key")
    return connections


ACTIVE_RUN_STATUSES = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


def sync_runs_active() -> list[SyncRun]:
    """Connection-wide syncs queued or running now (what "Sync now" started)."""
    return list(
        SyncRun.objects.filter(
            kind=SyncRun.Kind.WISE_STATEMENTS,
            account__isnull=True,
            status__in=ACTIVE_RUN_STATUSES,
            detail__has_key="connection",
        ).order_by("-started_at")[:5]
    )


def sync_runs_with_steps(*, run_ids: list[int]) -> list[tuple[SyncRun, list[SyncRun]]]:
    """Those runs, each with the per-account runs it started (two queries)."""
    runs = list(SyncRun.objects.filter(pk__in=run_ids).order_by("pk"))
    child_ids = [pk for run in runs for pk in run.detail.get("children", [])]
    children = SyncRun.objects.filter(pk__in=child_ids).select_related("account").in_bulk()
    return [
        (run, [children[pk] for pk in run.detail.get("children", []) if pk in children])
        for run in runs
    ]


def sync_run_last_failed() -> SyncRun | None:
    """The latest connection-wide sync, when it failed (for the accounts page's alert)."""
    last = (
        SyncRun.objects.filter(
            kind=SyncRun.Kind.WISE_STATEMENTS,
            account__isnull=True,
            detail__has_key="connection",
        )
        .exclude(status__in=ACTIVE_RUN_STATUSES)
        .order_by("-started_at")
        .first()
    )
    return last if last is not None and last.status == SyncRun.Status.FAILED else None


@dataclass(frozen=True)
class TransactionFilters:
    account_id: int | None = None
    currency: str = ""
    date_from: date | None = None
    date_to: date | None = None
    wise_type: str = ""
    text: str = ""


@dataclass(frozen=True)
class PageCursor:
    """A position in the newest-first list: the (booked_at, id) of a line."""

    booked_at: datetime
    id: int

    def token(self) -> str:
        return f"{self.booked_at.astimezone(UTC):%Y%m%dT%H%M%S%f}.{self.id}"

    @classmethod
    def parse(cls, token: str | None) -> "PageCursor | None":
        if not token:
            return None
        moment, _, pk = token.partition(".")
        line_id = int_parse(pk, minimum=1)
        try:
            booked_at = datetime.strptime(moment, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
        except ValueError:
            return None
        return None if line_id is None else cls(booked_at, line_id)


@dataclass(frozen=True)
class TransactionPage:
    rows: list[Transaction]
    newer: PageCursor | None  # token for the page before (newer lines), if any
    older: PageCursor | None  # token for the page after (older lines), if any


def _filtered(filters: TransactionFilters) -> QuerySet[Transaction]:
    lines = Transaction.objects.all()
    if filters.account_id:
        lines = lines.filter(account_id=filters.account_id)
    if filters.currency:
        lines = lines.filter(currency=filters.currency)
    if filters.date_from:
        lines = lines.filter(booked_at__gte=datetime.combine(filters.date_from, time.min, UTC))
    if filters.date_to:
        lines = lines.filter(
            booked_at__lt=datetime.combine(filters.date_to + timedelta(days=1), time.min, UTC)
        )
    if filters.wise_type:
        lines = lines.filter(wise_type=filters.wise_type)
    if filters.text:
        text = filters.text
        lines = lines.filter(
            Q(description__icontains=text)
            | Q(counterparty__icontains=text)
            | Q(reference_number__icontains=text)
            | Q(payment_reference__icontains=text)
        )
    return lines


@dataclass(frozen=True)
class CurrencyTotal:
    """The lines of one currency that match the filters: how many, in, out and net."""

    currency: str
    lines: int
    money_in: Decimal
    money_out: Decimal  # negative or zero

    @property
    def net(self) -> Decimal:
        return self.money_in + self.money_out


def transactions_totals(*, filters: TransactionFilters) -> list[CurrencyTotal]:
    """Count and totals per currency of the filtered lines (one grouped query). Filters
    by account, currency and days read the daily rows (their days, not the lines, so a
    million lines cost what a few thousand days do); text and type read the lines."""
    if filters.text or filters.wise_type:
        positive = Q(amount_minor__gt=0)
        rows = (
            _filtered(filters)
            .order_by()
            .values("currency")
            .annotate(
                n=Count("id"),
                inflow=Sum(Case(When(positive, then=F("amount_minor")), default=Value(0))),
                outflow=Sum(Case(When(~positive, then=F("amount_minor")), default=Value(0))),
            )
            .values_list("currency", "n", "inflow", "outflow")
        )
    else:
        days = DailyBalance.objects.all()
        if filters.account_id:
            days = days.filter(account_id=filters.account_id)
        if filters.currency:
            days = days.filter(account__currency=filters.currency)
        if filters.date_from:
            days = days.filter(date__gte=filters.date_from)
        if filters.date_to:
            days = days.filter(date__lte=filters.date_to)
        rows = (
            days.order_by()
            .values("account__currency")
            .annotate(n=Sum("line_count"), inflow=Sum("inflow_minor"), outflow=Sum("outflow_minor"))
            .values_list("account__currency", "n", "inflow", "outflow")
        )
    return [
        CurrencyTotal(code, n, from_minor(inflow or 0, code), from_minor(outflow or 0, code))
        for code, n, inflow, outflow in sorted(rows)
        if n
    ]


def transactions_page(
    *,
    filters: TransactionFilters,
    after: PageCursor | None = None,
    before: PageCursor | None = None,
    size: int = 50,
) -> TransactionPage:
    """One page of lines, newest first, by keyset on (booked_at, id): every page costs
    the same at a million lines (no OFFSET, no COUNT). `after` gives older lines than a
    cursor, `before` newer ones."""
    lines = _filtered(filters).select_related("account", "categorization")
    if before is not None:
        rows = list(
            lines.filter(booked_at__gte=before.booked_at)
            .filter(Q(booked_at__gt=before.booked_at) | Q(id__gt=before.id))
            .order_by("booked_at", "id")[: size + 1]
        )
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return TransactionPage(
            rows=rows,
            newer=_cursor(rows[0]) if rows and more_newer else None,
            older=_cursor(rows[-1]) if rows else None,
        )
    if after is not None:
        lines = lines.filter(booked_at__lte=after.booked_at).filter(
            Q(booked_at__lt=after.booked_at) | Q(id__lt=after.id)
        )
    rows = list(lines.order_by("-booked_at", "-id")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    return TransactionPage(
        rows=rows,
        newer=_cursor(rows[0]) if rows and after is not None else None,
        older=_cursor(rows[-1]) if rows and more_older else None,
    )


def _cursor(line: Transaction) -> PageCursor:
    return PageCursor(line.booked_at, line.pk)
