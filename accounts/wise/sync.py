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
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.lines import StatementLineError
from accounts.models import (
    BalanceGap,
    BalanceSnapshot,
    CashAccount,
    StatementCursor,
    SyncRun,
    WiseConnection,
)
from accounts.services import transactions_ingest
from accounts.wise.client import (
    WiseBalance,
    WiseClient,
    WiseError,
    WiseRateLimited,
    WiseStatementsRefused,
    WiseUnavailable,
    statement_ranges,
)
from accounts.wise.lease import leased, process_name, sync_runs_interrupted_fail
from accounts.wise.normalize import statement_lines_from_wise
from accounts.wise.proof import balance_prove, history_start
from treasury.money import to_minor

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


def sync_run_start(
    run: SyncRun | None, *, kind: str, account: CashAccount | None = None, label: str = ""
) -> SyncRun:
    """Mark a queued run (or a new one) running, in this process."""
    if run is None:
        run = SyncRun(kind=kind, account=account, label=label)
    run.status, run.started_at = SyncRun.Status.RUNNING, timezone.now()
    run.detail = {**run.detail, "process": process_name()}
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


# --- statements ---------------------------------------------------------------------------


def _fetch_from(
    account: CashAccount, cursor: StatementCursor, connection: WiseConnection, now: datetime
) -> datetime:
    if cursor.synced_until is None:
        since = history_start(account, connection, now)
    else:
        since = cursor.synced_until - timedelta(hours=settings.WISE_SYNC_OVERLAP_HOURS)
    gap_start = (
        BalanceGap.objects.filter(account=account, resolved_at__isnull=True)
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )
    return min(since, gap_start) if gap_start else since


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
    with leased(account, run) as lease:
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
    from_files = ""
    for lower, upper in ranges:
        try:
            statement = client.statement(
                account.wise_profile_id, account.wise_balance_id, account.currency, lower, upper
            )
        except WiseStatementsRefused as exc:
            # UK/EEA with a personal token: the lines come from statement files, and the
            # balance read above is still proved against the lines stored.
            from_files = str(exc)
            break
        if lower == ranges[0][0]:
            _institution_from_issuer(account, statement)
        _range_store(
            account=account, cursor=cursor, owner=owner, statement=statement, upper=upper, run=run
        )
    proof = balance_prove(
        account=account,
        connection=connection,
        cursor=cursor,
        wise=wise,
        at=proof_at,
        from_files=bool(from_files),
    )
    return sync_run_finish(
        run,
        status=SyncRun.Status.SUCCEEDED,
        proof="OK" if proof.ok else "MISMATCH",
        wise_minor=proof.wise_minor,
        stored_minor=proof.stored_minor,
        since=since.isoformat(),
        ranges=0 if from_files else len(ranges),
        **({"statements": "FILES", "notice": from_files} if from_files else {}),
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
