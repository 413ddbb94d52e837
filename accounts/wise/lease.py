"""The per-account lease a statement sync holds, and what a killed process leaves.

The lease is a `StatementCursor` row taken with one conditional UPDATE (free or expired),
which is atomic on SQLite (where `select_for_update` is ignored) and on PostgreSQL. Its
owner names the host, process and run, so a lease or a run left by a process of this
host that no longer exists (`kill -9`) is taken over at once instead of after expiry.
"""

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from accounts.models import CashAccount, StatementCursor, SyncRun


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
