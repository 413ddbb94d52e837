"""Syncing Wise: balances into cash accounts, statements into transactions, and the
balance proof after each account's sync.

The statement sync of one account follows the house sync pattern:

1. take the account's lease (one conditional UPDATE on its `StatementCursor`: free or
   expired; a lease left by a killed process on this host is taken over at once); a
   second sync of the same account records SKIPPED and stores nothing;
2. ask Wise for the balance (the proof's reference), then fetch statements from the
   cursor minus an overlap (or from the earliest open gap, or the configured start on
   the first sync) up to now, in ranges of at most 469 days;
3. store each range's lines through `transactions_ingest` and move the cursor in the
   same transaction, so a crash between ranges loses nothing and repeats nothing;
4. prove the balance: the stored lines up to the moment Wise reported the balance must
   add up to it; a difference opens a `BalanceGap` with the range to fetch again.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.lines import StatementLineError
from accounts.models import (
    BalanceGap,
    BalanceSnapshot,
    CashAccount,
    DailyBalance,
    StatementCursor,
    SyncRun,
    Transaction,
    WiseConnection,
)
from accounts.services import transactions_ingest
from accounts.wise.client import (
    WiseBalance,
    WiseClient,
    WiseError,
    WiseRateLimited,
    WiseUnavailable,
    statement_ranges,
)
from accounts.wise.normalize import statement_lines_from_wise
from treasury.money import from_minor, money_format, to_minor

logger = logging.getLogger("bulwark.wise")

TRANSIENT_ERRORS = (WiseRateLimited, WiseUnavailable)


class LeaseLost(Exception):
    """Another sync took this account's lease (ours had expired): stop, store nothing."""


def wise_client_for(connection: WiseConnection) -> WiseClient:
    base_url = (
        settings.WISE_SANDBOX_API_URL
        if connection.environment == WiseConnection.Environment.SANDBOX
        else settings.WISE_API_URL
    )
    return WiseClient(
        base_url,
        connection.api_token,
        private_key_pem=connection.sca_private_key or None,
        timeout=settings.HTTP_TIMEOUT_SECONDS,
        max_retries=settings.WISE_HTTP_RETRIES,
        backoff=settings.WISE_RETRY_BACKOFF_MS / 1000,
    )


# --- runs -----------------------------------------------------------------------------


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sync_run_start(
    run: SyncRun | None, *, kind: str, account: CashAccount | None = None, label: str = ""
) -> SyncRun:
    """Mark a queued run (or a new one) running, in this process."""
    if run is None:
        run = SyncRun(kind=kind, account=account, label=label)
    run.status, run.started_at = SyncRun.Status.RUNNING, timezone.now()
    run.detail = {**run.detail, "process": _process()}
    run.save()
    return run


def _run_failed(run: SyncRun, exc: Exception) -> SyncRun:
    """Record a failure; `transient` (and `retry_after`) tell the task whether to retry."""
    return sync_run_finish(
        run,
        status=SyncRun.Status.FAILED,
        error=str(exc),
        transient=isinstance(exc, TRANSIENT_ERRORS),
        retry_after=getattr(exc, "retry_after", None),
    )


def sync_runs_interrupted_fail() -> int:
    """Fail the runs left RUNNING by processes of this host that were killed."""
    failed = 0
    running = SyncRun.objects.filter(
        status=SyncRun.Status.RUNNING,
        kind__in=[SyncRun.Kind.WISE_BALANCES, SyncRun.Kind.WISE_STATEMENTS],
    )
    for run in running.only("pk", "detail"):
        if _owner_is_dead(run.detail.get("process", "")):
            failed += _interrupted_run_fail(run.pk)
    return failed


def sync_run_finish(run: SyncRun, *, status: str, error: str = "", **detail: Any) -> SyncRun:
    run.status, run.error, run.finished_at = status, error[:4000], timezone.now()
    run.detail = {**run.detail, **detail}
    if status == SyncRun.Status.SUCCEEDED:
        run.progress_done = run.progress_total
    run.save(update_fields=["status", "error", "finished_at", "detail", "progress_done"])
    return run


# --- balances ---------------------------------------------------------------------------


def _account_name(balance: WiseBalance) -> str:
    if balance.type == "SAVINGS":
        return balance.name or f"{balance.currency} jar"
    return f"Wise {balance.currency}"


@transaction.atomic
def _accounts_upsert(
    connection: WiseConnection, balances: list[WiseBalance], taken_at: datetime
) -> list[CashAccount]:
    """One cash account per Wise balance, each with a snapshot of what Wise reported.

    Concurrent upserts of one connection queue on its row (PostgreSQL; SQLite takes the
    write lock at the transaction's start), so a balance never gets two accounts.
    """
    WiseConnection.objects.select_for_update().filter(pk=connection.pk).first()
    existing = {
        a.wise_balance_id: a
        for a in CashAccount.objects.filter(wise_balance_id__in=[b.id for b in balances])
    }
    accounts = []
    for balance in balances:
        account = existing.get(balance.id)
        kind = CashAccount.Kind.SAVINGS if balance.type == "SAVINGS" else CashAccount.Kind.STANDARD
        if account is None:
            account = CashAccount.objects.create(
                institution=connection.institution,
                name=_account_name(balance),
                currency=balance.currency,
                kind=kind,
                wise_profile_id=connection.profile_id,
                wise_balance_id=balance.id,
                opened_on=balance.created_at.date() if balance.created_at else None,
            )
        elif account.name != _account_name(balance) or not account.is_active:
            account.name, account.is_active, account.closed_on = _account_name(balance), True, None
            account.save(update_fields=["name", "is_active", "closed_on"])
        BalanceSnapshot.objects.create(
            account=account,
            taken_at=taken_at,
            balance_minor=to_minor(balance.cash_amount, account.currency),
            raw=dict(balance.raw),
        )
        accounts.append(account)
    gone = CashAccount.objects.filter(wise_profile_id=connection.profile_id, is_active=True)
    gone.exclude(wise_balance_id__in=[b.id for b in balances]).update(
        is_active=False, closed_on=taken_at.date()
    )
    return accounts


def wise_balances_sync(
    *, connection: WiseConnection, run: SyncRun | None = None, client: WiseClient | None = None
) -> SyncRun:
    """Fetch the profile's balances; create or update their cash accounts."""
    run = sync_run_start(run, kind=SyncRun.Kind.WISE_BALANCES, label=str(connection))
    own_client = client is None
    client = client or wise_client_for(connection)
    try:
        taken_at = timezone.now()
        balances = client.balances(connection.profile_id)
        accounts = _accounts_upsert(connection, balances, taken_at)
    except WiseError as exc:
        logger.warning("Wise balances of %s failed: %s", connection, exc)
        return _run_failed(run, exc)
    finally:
        if own_client:
            client.close()
    run.created_count = len(accounts)
    run.save(update_fields=["created_count"])
    return sync_run_finish(run, status=SyncRun.Status.SUCCEEDED, accounts=[a.pk for a in accounts])


# --- the per-account lease ----------------------------------------------------------------


def _lease_owner(run: SyncRun) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{run.pk}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    """Whether the lease holder was a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _interrupted_run_fail(run_id: int) -> int:
    return SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error="Interrupted: the process running this sync stopped; a later sync resumes it.",
    )


def lease_acquire(cursor: StatementCursor, owner: str) -> bool:
    """Take the account's lease if it is free, expired, or left by a dead local process."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.WISE_SYNC_LEASE_SECONDS)
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    previous = (
        StatementCursor.objects.filter(pk=cursor.pk).values_list("lock_owner", flat=True).first()
    )
    taken = StatementCursor.objects.filter(free, pk=cursor.pk).update(
        locked_until=until, lock_owner=owner
    )
    if not taken and previous and _owner_is_dead(previous):
        taken = StatementCursor.objects.filter(pk=cursor.pk, lock_owner=previous).update(
            locked_until=until, lock_owner=owner
        )
    run_id = (previous or "").split(":")[2:3]
    if taken and run_id and run_id[0].isdigit():  # the run that held it never finished
        _interrupted_run_fail(int(run_id[0]))
    return bool(taken)


def lease_release(cursor: StatementCursor, owner: str) -> None:
    StatementCursor.objects.filter(pk=cursor.pk, lock_owner=owner).update(
        locked_until=None, lock_owner=""
    )


@contextmanager
def _leased(account: CashAccount, run: SyncRun) -> Iterator[tuple[StatementCursor, str] | None]:
    cursor = _cursor_for(account)
    owner = _lease_owner(run)
    if not lease_acquire(cursor, owner):
        yield None
        return
    try:
        yield cursor, owner
    finally:
        lease_release(cursor, owner)


def _cursor_for(account: CashAccount) -> StatementCursor:
    try:
        cursor, _ = StatementCursor.objects.get_or_create(account=account)
    except IntegrityError:  # created by a concurrent sync between our get and create
        cursor = StatementCursor.objects.get(account=account)
    return cursor


# --- statements ---------------------------------------------------------------------------


def _first_sync_start(account: CashAccount, connection: WiseConnection, now: datetime) -> datetime:
    """The configured start, else 1 January two years back, not before the balance opened."""
    start_day = connection.sync_start or settings.WISE_SYNC_START or date(now.year - 2, 1, 1)
    if account.opened_on and account.opened_on > start_day:
        start_day = account.opened_on
    return datetime.combine(start_day, time.min, tzinfo=UTC)


def _fetch_from(
    account: CashAccount, cursor: StatementCursor, connection: WiseConnection, now: datetime
) -> datetime:
    if cursor.synced_until is None:
        since = _first_sync_start(account, connection, now)
    else:
        since = cursor.synced_until - timedelta(hours=settings.WISE_SYNC_OVERLAP_HOURS)
    gap_start = (
        BalanceGap.objects.filter(account=account, resolved_at__isnull=True)
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )
    return min(since, gap_start) if gap_start else since


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
    return _first_sync_start(account, connection, at)  # already the first day disagrees


def balance_prove(
    *,
    account: CashAccount,
    connection: WiseConnection,
    cursor: StatementCursor,
    wise: WiseBalance,
    at: datetime,
) -> Proof:
    """Compare Wise's balance at `at` with the stored lines; open or resolve gaps.

    The stored balance is the opening balance plus the stored lines. When the history
    was fetched from the day the balance opened, the opening is known to be zero: a line
    missing before the first stored one then shows too (otherwise the opening derived
    from the first line's running balance would silently absorb it).
    """
    wise_minor = to_minor(wise.cash_amount, account.currency)
    stored = stored_balance_minor_at(account, at)
    from_opening = _first_sync_start(account, connection, at).date() == account.opened_on
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
            _first_sync_start(account, connection, at)
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
                f" lines from {start:%Y-%m-%d} are fetched again on the next sync."
            ),
        )
    logger.warning("Balance proof failed for %s: stored %s, Wise %s", account, stored, wise_minor)
    return proof


def _institution_from_issuer(account: CashAccount, statement: dict[str, Any]) -> None:
    """Record the Wise entity that holds the account (FBAR needs its name and address)."""
    issuer = statement.get("issuer") or {}
    institution = account.institution
    if institution.address or not issuer.get("name"):
        return
    parts = [issuer.get(k) for k in ("firstLine", "city", "stateCode", "postCode", "country")]
    institution.name = str(issuer["name"])[:200]
    institution.address = ", ".join(str(p) for p in parts if p)
    institution.save(update_fields=["name", "address"])


def _opening_balance_from_statement(account: CashAccount, statement: dict[str, Any]) -> None:
    """A balance without lines so far opens at what Wise says it held (a dormant balance
    whose last line is older than the first sync's start)."""
    closing = statement.get("endOfStatementBalance") or {}
    if closing.get("value") is None or str(closing.get("currency", "")).upper() != account.currency:
        return
    opening = to_minor(Decimal(closing["value"]), account.currency)
    if CashAccount.objects.filter(pk=account.pk, chain_length=0).update(
        opening_balance_minor=opening
    ):
        account.opening_balance_minor = opening


def _range_store(
    *,
    account: CashAccount,
    cursor: StatementCursor,
    owner: str,
    statement: dict[str, Any],
    upper: datetime,
    run: SyncRun,
) -> tuple[int, int]:
    """Store one statement's lines and move the cursor, in one transaction."""
    lines = statement_lines_from_wise(statement)
    with transaction.atomic():
        result = transactions_ingest(account=account, lines=lines, source="API")
        lease = timezone.now() + timedelta(seconds=settings.WISE_SYNC_LEASE_SECONDS)
        moved = StatementCursor.objects.filter(pk=cursor.pk, lock_owner=owner).update(
            synced_until=upper if cursor.synced_until is None else max(upper, cursor.synced_until),
            locked_until=lease,
        )
        if not moved:
            raise LeaseLost(f"another sync took over {account} (this one ran past its lease)")
        if not lines:
            _opening_balance_from_statement(account, statement)
        run.progress_done += 1
        run.created_count += result.created
        run.skipped_count += result.skipped
        run.save(update_fields=["progress_done", "created_count", "skipped_count"])
    cursor.synced_until = max(upper, cursor.synced_until or upper)
    return result.created, result.skipped


def wise_account_sync(
    *, account: CashAccount, run: SyncRun | None = None, client: WiseClient | None = None
) -> SyncRun:
    """Sync one Wise balance's statements, then prove its balance. Returns the run:
    SUCCEEDED (see `detail["proof"]`), SKIPPED (another sync holds the lease) or FAILED
    (`error` says why; the lines stored before the failure stay, the cursor with them)."""
    run = sync_run_start(
        run, kind=SyncRun.Kind.WISE_STATEMENTS, account=account, label=str(account)
    )
    connection = WiseConnection.objects.filter(profile_id=account.wise_profile_id).first()
    if connection is None or account.wise_balance_id is None:
        return sync_run_finish(
            run,
            status=SyncRun.Status.FAILED,
            error=f"{account} is not a balance of a connected Wise profile.",
        )
    with _leased(account, run) as lease:
        if lease is None:
            return sync_run_finish(
                run, status=SyncRun.Status.SKIPPED, error="Another sync of this account is running."
            )
        cursor, owner = lease
        StatementCursor.objects.filter(pk=cursor.pk).update(last_run=run)
        own_client = client is None
        client = client or wise_client_for(connection)
        try:
            return _account_sync_leased(account, cursor, owner, connection, client, run)
        except (WiseError, StatementLineError, LeaseLost) as exc:
            logger.warning("Wise sync of %s failed: %s", account, exc)
            return _run_failed(run, exc)
        except BaseException as exc:
            sync_run_finish(run, status=SyncRun.Status.FAILED, error=f"Unexpected error: {exc!r}")
            raise
        finally:
            if own_client:
                client.close()


def _account_sync_leased(
    account: CashAccount,
    cursor: StatementCursor,
    owner: str,
    connection: WiseConnection,
    client: WiseClient,
    run: SyncRun,
) -> SyncRun:
    assert account.wise_profile_id is not None
    assert account.wise_balance_id is not None
    proof_at = timezone.now()
    wise = client.balance(account.wise_profile_id, account.wise_balance_id)
    since = _fetch_from(account, cursor, connection, proof_at)
    # Wise's times have millisecond precision: so do range bounds, or a line could fall
    # between one range's end and the next one's start.
    now = timezone.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    ranges = list(statement_ranges(since, now, timedelta(days=settings.WISE_STATEMENT_SPAN_DAYS)))
    run.progress_total = len(ranges) + 1
    run.save(update_fields=["progress_total"])
    for lower, upper in ranges:
        statement = client.statement(
            account.wise_profile_id, account.wise_balance_id, account.currency, lower, upper
        )
        if lower == ranges[0][0]:
            _institution_from_issuer(account, statement)
        _range_store(
            account=account, cursor=cursor, owner=owner, statement=statement, upper=upper, run=run
        )
    proof = balance_prove(
        account=account, connection=connection, cursor=cursor, wise=wise, at=proof_at
    )
    return sync_run_finish(
        run,
        status=SyncRun.Status.SUCCEEDED,
        proof="OK" if proof.ok else "MISMATCH",
        wise_minor=proof.wise_minor,
        stored_minor=proof.stored_minor,
        since=since.isoformat(),
        ranges=len(ranges),
    )


# --- the whole connection -------------------------------------------------------------------


def wise_connection_sync(*, connection: WiseConnection, run: SyncRun | None = None) -> SyncRun:
    """Balances, then every balance's statements: what "Sync now" and `sync_wise` run.

    `run` tracks the whole: one step for the balances and one per account; each account
    also gets its own run (`detail["children"]`) for its last-sync status.
    """
    sync_runs_interrupted_fail()
    run = sync_run_start(
        run, kind=SyncRun.Kind.WISE_STATEMENTS, label=f"All balances of {connection}"
    )
    run.detail = {**run.detail, "connection": connection.pk, "children": []}
    run.progress_total = 1
    run.save(update_fields=["detail", "progress_total"])
    with wise_client_for(connection) as client:
        balances_run = wise_balances_sync(connection=connection, client=client)
        if balances_run.status == SyncRun.Status.FAILED:
            return sync_run_finish(
                run,
                status=SyncRun.Status.FAILED,
                error=balances_run.error,
                transient=balances_run.detail.get("transient", False),
            )
        accounts = list(
            CashAccount.objects.filter(
                wise_profile_id=connection.profile_id, is_active=True
            ).order_by("currency", "name")
        )
        run.progress_total, run.progress_done = len(accounts) + 1, 1
        run.save(update_fields=["progress_total", "progress_done"])
        failures = []
        for account in accounts:
            child = SyncRun.objects.create(
                kind=SyncRun.Kind.WISE_STATEMENTS,
                status=SyncRun.Status.QUEUED,
                account=account,
                label=str(account),
                detail={"parent": run.pk},
            )
            run.detail["children"].append(child.pk)
            run.save(update_fields=["detail"])
            child = wise_account_sync(account=account, run=child, client=client)
            run.progress_done += 1
            run.created_count += child.created_count
            run.skipped_count += child.skipped_count
            run.save(update_fields=["progress_done", "created_count", "skipped_count"])
            if child.status == SyncRun.Status.FAILED:
                failures.append(f"{account}: {child.error}")
    if failures:
        return sync_run_finish(
            run,
            status=SyncRun.Status.FAILED,
            error=f"{len(failures)} of {len(accounts)} balances failed. " + " | ".join(failures),
        )
    return sync_run_finish(run, status=SyncRun.Status.SUCCEEDED)
