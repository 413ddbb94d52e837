"""Runs left RUNNING by a process that no longer exists: taken over, or swept and queued again.

Every long job marks its `SyncRun` RUNNING with `detail["process"]` = `host:pid:token`
(`treasury.processes.process_name`). A process killed mid-way (SIGKILL, the OOM killer, a
container restart) leaves that run RUNNING and its lease set. Leases are rows of the
shared database (PostgreSQL in production), so every host sees the same holder:

- **Leases** are taken over at once when their holder is a dead process of this host
  (`holder_is_dead`; `runs_holders_dead` for the leases that keep no owner themselves:
  the Xero push and read-back, reconciliation). A compare-and-set on the lease's old
  value lets one taker win. A holder on another host cannot be checked by pid: its
  lease is taken over once it expires, as its holder renews it while it works.
- **The sweep** (`runs_sweep`, beat, every minute) finds RUNNING runs whose process is
  dead, marks them FAILED "Interrupted" (`detail["interrupted"]`) and queues each again
  through what its app registered (`run_requeue_register(kind, fn)`), which first frees
  the lease the dead run held (`lease_release_orphaned`). A run of another
  host cannot be checked by pid; it counts as dead once it has been running twice the
  hard task time limit, which no worker task outlives.

A task redelivered after its run was swept finds the run finished and does nothing
(`run_superseded`): the re-queued run does the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import SyncRun
from treasury.processes import holder_is_dead, host_id, process_name

logger = logging.getLogger("bulwark.runs")

INTERRUPTED = "Interrupted: the process running this stopped"
Requeue = Callable[[SyncRun], "SyncRun | None"]
_requeue: dict[str, Requeue] = {}


def run_process_mark(run: SyncRun, **detail: Any) -> dict[str, Any]:
    """The run's detail with this process as its owner (save it with the run)."""
    run.detail = {**run.detail, **detail, "process": process_name()}
    return run.detail


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)


def run_is_orphaned(run: SyncRun, *, now: datetime | None = None) -> bool:
    """Whether a RUNNING run's process is gone (dead here, or far past any time limit)."""
    owner = str(run.detail.get("process", ""))
    if holder_is_dead(owner):
        return True
    foreign = owner.split(":", 1)[0] != host_id()
    return foreign and run.started_at < _stale_before(now or timezone.now())


def runs_holders_dead(*, kind: str, exclude: int | None = None, **detail: Any) -> bool:
    """Whether a lease's holder is gone: there are RUNNING runs of `kind` (matching
    `detail`) besides `exclude`, and all are orphaned. With none, the lease is left to
    expire: its holder may be a live process between finishing its run and releasing."""
    running = SyncRun.objects.filter(
        kind=kind, status=SyncRun.Status.RUNNING, **{f"detail__{k}": v for k, v in detail.items()}
    ).exclude(pk=exclude)
    holders = list(running.only("pk", "detail", "started_at"))
    return bool(holders) and all(run_is_orphaned(run) for run in holders)


def lease_release_orphaned(rows: QuerySet[Any], field: str, *, kind: str, **detail: Any) -> bool:
    """Free the lease in `rows`.`field` when no live run of `kind` (matching `detail`)
    holds it: the sweep's step after interrupting the holder, so the run it queues again
    is not refused by a lease nobody holds. Compare-and-set: a taker meanwhile wins."""
    held = rows.values_list(field, flat=True).first()
    if held is None:
        return False
    running = SyncRun.objects.filter(
        kind=kind, status=SyncRun.Status.RUNNING, **{f"detail__{k}": v for k, v in detail.items()}
    )
    if any(not run_is_orphaned(run) for run in running.only("pk", "detail", "started_at")):
        return False
    return bool(rows.filter(**{field: held}).update(**{field: None}))


def run_interrupted_mark(run_id: int, message: str = INTERRUPTED) -> bool:
    """Mark one RUNNING run interrupted; False when another sweeper (or its process) won."""
    run = SyncRun.objects.filter(pk=run_id).only("detail").first()
    detail = {**(run.detail if run else {}), "interrupted": True}
    return bool(
        SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED, finished_at=timezone.now(), error=message, detail=detail
        )
    )


def runs_orphaned_fail(*, exclude: int | None = None, **filters: Any) -> int:
    """Mark the orphaned RUNNING runs matching `filters` interrupted (not re-queued)."""
    running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, **filters).exclude(pk=exclude)
    return sum(
        run_interrupted_mark(run.pk)
        for run in running.only("pk", "detail", "started_at")
        if run_is_orphaned(run)
    )


def runs_lease_lapsed_fail(*, exclude: int, **filters: Any) -> int:
    """Mark interrupted every other RUNNING run matching `filters`, on taking over their
    lease after it expired: a live holder renews its lease, so it stopped (on any host)."""
    running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, **filters).exclude(pk=exclude)
    return sum(run_interrupted_mark(pk) for pk in running.values_list("pk", flat=True))


def run_superseded(run_id: int | None) -> bool:
    """Whether a task's run already ended (swept and queued again, or done): skip it."""
    if run_id is None:
        return False
    return SyncRun.objects.filter(
        Q(pk=run_id) & ~Q(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
    ).exists()


def run_requeue_register(kind: str, requeue: Requeue) -> None:
    """How the sweep queues an interrupted run of `kind` again (returns the new run)."""
    _requeue[kind] = requeue


def runs_sweep(*, now: datetime | None = None) -> list[tuple[SyncRun, SyncRun | None]]:
    """Every orphaned RUNNING run, marked interrupted and queued again: (old, new) pairs."""
    swept = []
    running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).order_by("started_at")
    for run in running:
        if not run_is_orphaned(run, now=now) or not run_interrupted_mark(run.pk):
            continue
        requeue = _requeue.get(run.kind)
        again = requeue(run) if requeue is not None else None
        if again is not None:
            SyncRun.objects.filter(pk=run.pk).update(
                detail={**run.detail, "interrupted": True, "requeued_as": again.pk},
                error=f"{INTERRUPTED}; queued again as run {again.pk}",
            )
        logger.warning("Run %s (%s) was interrupted; queued again: %s", run.pk, run.kind, again)
        swept.append((run, again))
    return swept
