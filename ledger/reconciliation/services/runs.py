"""A reconciliation run: one at a time per organisation (a lease; a second asks the
first to go round once more), its steps and progress, and its enqueueing."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import SyncRun
from accounts.runs import (
    lease_release_orphaned,
    run_process_mark,
    runs_holders_dead,
    runs_orphaned_fail,
)
from ledger.models import Organisation
from ledger.reconciliation import matcher
from ledger.reconciliation.conf import tolerances
from ledger.reconciliation.models import (
    Match,
    Mismatch,
    ReconcileLease,
)
from ledger.reconciliation.services.loading import Scope, entries_load, lines_load, scope_of
from ledger.reconciliation.services.storing import (
    balance_checks_store,
    balance_differences,
    matches_active,
    matches_store,
    mismatches_store,
)
from ledger.rules.bulk import collector_paused

logger = logging.getLogger("bulwark.reconciliation")

LEASE = timedelta(minutes=30)


# --- a run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    lines: int = 0
    entries: int = 0
    opened: int = 0
    changed: int = 0
    reopened: int = 0
    resolved: int = 0
    matches_new: int = 0
    matches_undone: int = 0
    balance_days: int = 0
    matches: dict[str, int] = field(default_factory=dict)
    mismatches: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step


def _lease_take(organisation: Organisation, run: SyncRun) -> bool:
    """Free, expired, or held by a process that died (taken over at once, compare-and-set
    on the dead holder's value); the dead holder's runs are marked interrupted."""
    ReconcileLease.objects.get_or_create(organisation=organisation)
    now = timezone.now()
    rows = ReconcileLease.objects.filter(organisation=organisation)
    if rows.filter(Q(until__isnull=True) | Q(until__lt=now)).update(until=now + LEASE, rerun=False):
        taken = True
    else:
        held = rows.values_list("until", flat=True).first()
        taken = (
            held is not None
            and runs_holders_dead(kind=run.kind, exclude=run.pk, organisation=organisation.pk)
            and bool(rows.filter(until=held).update(until=now + LEASE))
        )
    if taken:
        runs_orphaned_fail(exclude=run.pk, kind=run.kind, detail__organisation=organisation.pk)
    return taken


def _rerun_take(organisation: Organisation) -> bool:
    return bool(
        ReconcileLease.objects.filter(organisation=organisation, rerun=True).update(rerun=False)
    )


def reconcile(
    *, organisation_id: int, account_ids: Sequence[int] | None = None, now: datetime | None = None
) -> SyncRun:
    """One reconciliation of the organisation (or of the books of `account_ids`), as a
    `SyncRun` of kind RECONCILE with its progress and what it found."""
    organisation = Organisation.objects.get(pk=organisation_id)
    single = account_ids[0] if account_ids and len(account_ids) == 1 else None
    run = SyncRun(
        kind=SyncRun.Kind.RECONCILE,
        status=SyncRun.Status.RUNNING,
        label=organisation.name,
        account_id=single,
        progress_total=len(STEPS),
    )
    run_process_mark(run, organisation=organisation.pk, accounts=list(account_ids or []) or None)
    run.save()
    if not _lease_take(organisation, run):
        ReconcileLease.objects.filter(organisation=organisation).update(rerun=True)
        return _finish(
            run,
            SyncRun.Status.SKIPPED,
            reason="Another reconciliation is running; it runs once more after this",
        )
    try:
        with collector_paused():
            scope = scope_of(organisation, account_ids)
            result = _reconcile_once(organisation, scope, run, now or timezone.now())
            while _rerun_take(organisation):
                run.progress_done = 0
                result = _reconcile_once(organisation, scope_of(organisation), run, timezone.now())
    except Exception as exc:
        logger.exception("Reconciliation of %s failed", organisation)
        return _finish(run, SyncRun.Status.FAILED, error=str(exc) or type(exc).__name__)
    finally:
        ReconcileLease.objects.filter(organisation=organisation).update(until=None)
    run.created_count = result.opened
    run.skipped_count = 0
    return _finish(run, SyncRun.Status.SUCCEEDED, **result.__dict__)


def _finish(run: SyncRun, status: str, *, error: str = "", **detail: Any) -> SyncRun:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    if status == SyncRun.Status.SUCCEEDED:
        run.progress_done = run.progress_total
    run.detail = {**run.detail, **detail}
    run.save(
        update_fields=["status", "error", "finished_at", "detail", "progress_done", "created_count"]
    )
    return run


STEPS = ("lines", "entries", "matching", "matches", "mismatches", "balances")


def _step(run: SyncRun, name: str, result: RunResult) -> None:
    """Progress for pages, and how long the step took (time since the previous one)."""
    now = time.perf_counter()
    result.timings[name] = round(now - result.timings.pop("_mark", now), 3)
    result.timings["_mark"] = now
    run.progress_done = STEPS.index(name) + 1
    run.save(update_fields=["progress_done"])


def _reconcile_once(
    organisation: Organisation, scope: Scope, run: SyncRun, now: datetime
) -> RunResult:
    tol = tolerances()
    result = RunResult(timings={"_mark": time.perf_counter()})
    grace = now - timedelta(hours=tol.grace_hours)
    lines = lines_load(organisation, scope, grace)
    result.lines = len(lines)
    _step(run, "lines", result)
    entries = entries_load(organisation, scope, lines, grace)
    result.entries = len(entries)
    _step(run, "entries", result)
    active = matches_active(organisation, scope)
    manual = {
        signature: members
        for signature, (_, method, _, members) in active.items()
        if method == Match.Method.MANUAL
        and all(i in lines for i in members[0])
        and all(i in entries for i in members[1])
    }
    forbidden = set(
        Match.objects.filter(organisation=organisation, undone_by__isnull=False).values_list(
            "signature", flat=True
        )
    )
    outcome = matcher.Matcher(
        lines.values(),
        entries.values(),
        window=tol.window_days,
        near_miss=tol.near_miss_days,
        amount_tolerance=tol.amount_minor,
        fixed=manual.values(),
        forbidden=forbidden,
    ).run()
    _step(run, "matching", result)
    with transaction.atomic():
        ids = matches_store(
            organisation, outcome.matches, active, manual, lines, entries, now, result
        )
        _step(run, "matches", result)
        held = [*((sig, members[0], members[1]) for sig, members in manual.items()),
                *((p.signature, p.lines, p.entries) for p in outcome.matches)]  # fmt: skip
        differences = matcher.line_differences(
            lines, entries, held, outcome, book_account=scope.book_account(), window=tol.window_days
        )
        balance, covered = balance_differences(organisation, scope)
        mismatch_ids = mismatches_store(
            organisation, scope, [*differences, *balance], ids, now, result
        )
        _step(run, "mismatches", result)
        result.balance_days = balance_checks_store(organisation, covered, mismatch_ids, now)
    _step(run, "balances", result)
    result.timings.pop("_mark")
    result.matches = dict(
        Match.objects.filter(organisation=organisation, undone_at__isnull=True)
        .values_list("method")
        .annotate(n=Count("id"))
        .values_list("method", "n")
    )
    result.mismatches = dict(
        Mismatch.objects.filter(organisation=organisation, status=Mismatch.Status.OPEN)
        .values_list("type")
        .annotate(n=Count("id"))
        .values_list("type", "n")
    )
    return result


# --- enqueueing ------------------------------------------------------------------------------


def reconcile_requeue(run: SyncRun) -> SyncRun | None:
    """The sweep's re-queue of an interrupted reconciliation (beat: `runs_sweep`)."""
    organisation_id = run.detail.get("organisation")
    if Organisation.objects.filter(pk=organisation_id).exists():
        lease_release_orphaned(
            ReconcileLease.objects.filter(organisation_id=organisation_id),
            "until",
            kind=run.kind,
            organisation=organisation_id,
        )
        reconcile_enqueue(organisation_id=organisation_id, account_ids=run.detail.get("accounts"))
    return None  # the task opens its own run


def reconcile_enqueue(*, organisation_id: int, account_ids: list[int] | None = None) -> None:
    """Reconcile once the current transaction commits (a worker does it)."""
    from ledger.reconciliation.tasks import reconcile_task

    transaction.on_commit(lambda: reconcile_task.delay(organisation_id, account_ids), robust=True)
