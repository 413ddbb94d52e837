"""The balance proof: the stored lines must add up to the balance Wise reports.

A difference opens a `BalanceGap` naming where to fetch again from: after the last day
whose stored closing is the running balance Wise gave that day's last line (a missing
line hides after it), and the next sync re-reads from there.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import (
    BalanceGap,
    BalanceSnapshot,
    CashAccount,
    DailyBalance,
    StatementCursor,
    Transaction,
    WiseConnection,
)
from accounts.wise.client import WiseBalance
from treasury.money import from_minor, money_format, to_minor

logger = logging.getLogger("bulwark.wise")


def history_start(account: CashAccount, connection: WiseConnection, now: datetime) -> datetime:
    """The configured start, else 1 January two years back, not before the balance opened."""
    start_day = connection.sync_start or settings.WISE_SYNC_START or date(now.year - 2, 1, 1)
    if account.opened_on and account.opened_on > start_day:
        start_day = account.opened_on
    return datetime.combine(start_day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Proof:
    ok: bool
    at: datetime
    wise_minor: int
    stored_minor: int


def stored_balance_minor_at(account: CashAccount, moment: datetime) -> int:
    """The balance of the stored lines at `moment`: the closing of the day before, plus
    that day's lines up to the moment (sums, not Wise's running balances)."""
    day = moment.astimezone(UTC).date()
    before = (
        DailyBalance.objects.filter(account=account, date__lt=day)
        .order_by("-date")
        .values_list("closing_minor", flat=True)
        .first()
    )
    account.refresh_from_db(fields=["opening_balance_minor"])
    same_day = Transaction.objects.filter(
        account=account, booked_on=day, booked_at__lte=moment
    ).aggregate(total=Sum("amount_minor"))["total"]
    return (account.opening_balance_minor if before is None else before) + (same_day or 0)


def _days_check(account: CashAccount) -> tuple[bool, date | None]:
    """Compare each day's stored closing with the running balance Wise gave the day's last
    line: (whether all days agree, the last day that agrees before the first that does
    not). A missing line hides after that day's last line."""
    closings = dict(
        DailyBalance.objects.filter(account=account).values_list("date", "closing_minor")
    )
    last_of_day: dict[date, tuple[datetime, set[int]]] = {}
    lines = (
        Transaction.objects.filter(account=account, running_balance_minor__isnull=False)
        .order_by("booked_at")
        .values_list("booked_on", "booked_at", "running_balance_minor")
        .iterator(chunk_size=5000)
    )
    for day, booked_at, running in lines:
        latest = last_of_day.get(day)
        if latest is None or booked_at > latest[0]:
            last_of_day[day] = (booked_at, {running})
        elif booked_at == latest[0]:  # same instant: either order is Wise's
            latest[1].add(running)
    agreeing = None
    for day in sorted(last_of_day):
        if closings.get(day) not in last_of_day[day][1]:
            return False, agreeing
        agreeing = day
    return True, agreeing


def _gap_start(account: CashAccount, connection: WiseConnection, at: datetime) -> datetime:
    """Where to fetch again from, after a failed proof."""
    all_agree, agreeing = _days_check(account)
    if not all_agree and agreeing is not None:
        return datetime.combine(agreeing, time.min, tzinfo=UTC)
    last = Transaction.objects.filter(account=account).order_by("-booked_at").first()
    if all_agree and last is not None:
        return last.booked_at  # lines missing after the last stored one
    return history_start(account, connection, at)  # already the first day disagrees


def balance_prove(
    *,
    account: CashAccount,
    connection: WiseConnection,
    cursor: StatementCursor,
    wise: WiseBalance,
    at: datetime,
    from_files: bool = False,
) -> Proof:
    """Compare Wise's balance at `at` with the stored lines; open or resolve gaps.

    The stored balance is the opening balance plus the stored lines. When the history
    was fetched from the day the balance opened, the opening is known to be zero: a line
    missing before the first stored one then shows too (otherwise the opening derived
    from the first line's running balance would silently absorb it).
    """
    wise_minor = to_minor(wise.cash_amount, account.currency)
    stored = stored_balance_minor_at(account, at)
    from_opening = history_start(account, connection, at).date() == account.opened_on
    missing_first = from_opening and account.opening_balance_minor != 0
    if missing_first:
        stored -= account.opening_balance_minor
    proof = Proof(ok=stored == wise_minor, at=at, wise_minor=wise_minor, stored_minor=stored)
    with transaction.atomic():
        BalanceSnapshot.objects.get_or_create(
            account=account,
            taken_at=at,
            defaults={"balance_minor": wise_minor, "raw": dict(wise.raw)},
        )
        StatementCursor.objects.filter(pk=cursor.pk).update(
            proof_status=StatementCursor.Proof.OK if proof.ok else StatementCursor.Proof.MISMATCH,
            proof_at=at,
            proof_wise_minor=wise_minor,
            proof_stored_minor=stored,
        )
        open_gaps = BalanceGap.objects.filter(account=account, resolved_at__isnull=True)
        if proof.ok:
            open_gaps.update(resolved_at=timezone.now())
            return proof
        start = (
            history_start(account, connection, at)
            if missing_first
            else _gap_start(account, connection, at)
        )
        difference = from_minor(wise_minor - stored, account.currency)
        BalanceGap.objects.create(
            account=account,
            start=start,
            end=at,
            wise_minor=wise_minor,
            stored_minor=stored,
            reason=(
                f"Stored lines add up to {money_format(from_minor(stored, account.currency), account.currency)}"  # noqa: E501
                f" but Wise reports {money_format(wise.cash_amount, account.currency)}"
                f" (difference {money_format(difference, account.currency)});"
                + (
                    f" import a statement file of the lines from {start:%Y-%m-%d}"
                    " (Wise gives this token no statements of the balance)."
                    if from_files
                    else f" lines from {start:%Y-%m-%d} are fetched again on the next sync."
                )
            ),
        )
    logger.warning("Balance proof failed for %s: stored %s, Wise %s", account, stored, wise_minor)
    return proof
