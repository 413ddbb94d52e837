"""The per-account lease a statement sync holds, and what a killed process leaves.

The lease is a `StatementCursor` row taken with one conditional UPDATE (free or expired),
which is atomic on SQLite (where `select_for_update` is ignored) and on PostgreSQL. Its
owner names the host, process (pid and token) and run, `host:pid:token:run:nonce`, so a
lease or a run left by a process of this host that no longer exists (`kill -9`) is taken
over at once; one left by a process of another host, once it expires (the sync renews it
after every page, so a live one never does).
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from accounts.models import CashAccount, StatementCursor, SyncRun
from accounts.runs import run_interrupted_mark, runs_orphaned_fail
from treasury.processes import holder_is_dead, process_name

__all__ = ["leased", "process_name", "sync_runs_interrupted_fail"]
INTERRUPTED = "Interrupted: the process running this sync stopped; a later sync resumes it."


def sync_runs_interrupted_fail() -> int:
    """Fail the Wise runs left RUNNING by processes that were killed."""
    return runs_orphaned_fail(kind__in=[SyncRun.Kind.WISE_BALANCES, SyncRun.Kind.WISE_STATEMENTS])


def _lease_owner(run: SyncRun) -> str:
    return f"{process_name()}:{run.pk}:{uuid.uuid4().hex[:8]}"


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
    if not taken and previous and holder_is_dead(previous):
        taken = StatementCursor.objects.filter(pk=cursor.pk, lock_owner=previous).update(
            locked_until=until, lock_owner=owner
        )
    run_id = (previous or "").split(":")[3:4]
    own_run = owner.split(":")[3:4]
    if taken and run_id and run_id[0].isdigit() and run_id != own_run:
        # The run that held it never finished (unless it is this very run, redelivered
        # to this process by the broker after its first worker was killed).
        run_interrupted_mark(int(run_id[0]), INTERRUPTED)
    return bool(taken)


def lease_release(cursor: StatementCursor, owner: str) -> None:
    StatementCursor.objects.filter(pk=cursor.pk, lock_owner=owner).update(
        locked_until=None, lock_owner=""
    )


@contextmanager
def leased(account: CashAccount, run: SyncRun) -> Iterator[tuple[StatementCursor, str] | None]:
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
