"""Writes of categorization: saving and ordering rules, applying them to lines (in
batches, each its own transaction), hand edits and locks, and the audit trail."""

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import CashAccount, SyncRun, Transaction
from accounts.runs import run_process_mark
from ledger.rules import defaults
from ledger.rules.bulk import collector_paused, rows_insert
from ledger.rules.engine import (
    Engine,
    Outcome,
    RuleSpec,
    lines_unseen,
    rows_read,
    scoped,
    specs_saved,
)
from ledger.rules.models import (
    BOOKING_FIELDS,
    Action,
    AuditEntry,
    Categorization,
    Condition,
    LineDecision,
    Rule,
    RuleRun,
)

logger = logging.getLogger(__name__)

BATCH = 2000
WRITE_CHUNK = 900  # ids per `pk__in`: under SQLite's oldest parameter limit
ID_PAGE = 25  # batches of ids read per query
ATTEMPTS = 3  # a batch that lost a race with a concurrent writer is recomputed


class RuleOrderError(ValueError):
    """A reorder that does not name every rule exactly once (the list changed meanwhile)."""


def _user(user: AbstractBaseUser | None) -> Any:
    return user if user is not None and user.is_authenticated else None


def audit_record(
    *,
    action: str,
    summary: str,
    user: AbstractBaseUser | None = None,
    rule: Rule | None = None,
    rule_name: str = "",
    line_id: int | None = None,
    run: RuleRun | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        summary=summary[:300],
        user=_user(user),
        rule=rule,
        rule_name=(rule.name if rule is not None else rule_name)[:120],
        transaction_id=line_id,
        run=run,
        detail=detail or {},
    )


# --- applying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyResult:
    lines_seen: int
    lines_changed: int
    fields_changed: int
    change_set: frozenset[tuple[int, str, str, str]]


def rules_apply(
    *,
    queryset: QuerySet[Transaction],
    specs: Sequence[RuleSpec],
    focus_id: int | None = None,
    run: RuleRun | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
    collect: bool = False,
) -> ApplyResult:
    """Apply `specs` to the lines of `queryset` and store what changes.

    With `focus_id`, only lines that rule matches now or had set are touched (what a
    preview of that rule shows). Each batch reads, decides and writes in one
    transaction with the lines' categorizations locked, so a hand edit made meanwhile
    is either seen (and its locks honoured) or waits. A crash loses no more than the
    batch in progress; running again finishes the job (the result is derived state).
    `collect` keeps every (line, field, before, after) fact in the result, for tests.
    """
    engine = Engine(specs, at=timezone.now().isoformat())
    focus = engine.by_id.get(focus_id) if focus_id else None
    seen = changed = fields = 0
    facts: set[tuple[int, str, str, str]] = set()
    with collector_paused():
        for ids in _id_batches(queryset, batch):
            for attempt in range(ATTEMPTS):
                try:
                    outcomes = _batch_apply(engine, queryset, ids[0], ids[-1], focus, focus_id, run)
                    break
                except IntegrityError:
                    if attempt == ATTEMPTS - 1:
                        raise
                    logger.info(
                        "Rules batch from line %s met a concurrent writer; retrying", ids[0]
                    )
            seen += len(ids)
            for outcome in outcomes:
                if outcome.changes:
                    changed += 1
                    fields += len(outcome.changes)
                    if collect:
                        facts |= outcome.change_set()
            if progress is not None:
                progress(seen)
    return ApplyResult(
        lines_seen=seen, lines_changed=changed, fields_changed=fields, change_set=frozenset(facts)
    )


def _id_batches(queryset: QuerySet[Transaction], batch: int) -> Iterator[list[int]]:
    """The ids of `queryset` in order, `batch` at a time, until a read finds no more
    (lines stored meanwhile are seen). Ids are read `ID_PAGE` batches per query: on
    PostgreSQL, a table just filled has no statistics yet and each read becomes a
    scan of the whole table (half a second per pass over 100,000 lines)."""
    last_id = 0
    while True:
        page = list(
            queryset.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", flat=True)[: batch * ID_PAGE]
        )
        if not page:
            return
        for start in range(0, len(page), batch):
            yield page[start : start + batch]
        last_id = page[-1]


def _batch_apply(
    engine: Engine,
    queryset: QuerySet[Transaction],
    first: int,
    last: int,
    focus: Any,
    focus_id: int | None,
    run: RuleRun | None,
) -> list[Outcome]:
    with transaction.atomic():
        in_range = queryset.filter(id__gte=first, id__lte=last)
        # PostgreSQL: wait for concurrent hand edits of these lines (SQLite's IMMEDIATE
        # transaction already holds the write lock).
        list(
            Categorization.objects.select_for_update()
            .filter(transaction_id__gte=first, transaction_id__lte=last)
            .values_list("id", flat=True)
        )
        rows, lines = scoped(engine, rows_read(in_range), focus, focus_id)
        outcomes = engine.outcomes(rows, lines)
        _outcomes_store(outcomes, run=run)
    return outcomes


def _outcomes_store(outcomes: list[Outcome], *, run: RuleRun | None) -> None:
    now = timezone.now()
    rows_insert(
        Categorization,
        (
            *BOOKING_FIELDS,
            "transaction_id",
            "provenance",
            "locked_fields",
            "revision",
            "updated_at",
        ),
        (
            (*o.target.values(), o.line_id, o.provenance, [], 1 if o.changes else 0, now)
            for o in outcomes
            if o.categorization_id is None
        ),
    )
    groups: dict[tuple[str, bool], list[int]] = {}
    payloads: dict[tuple[str, bool], dict[str, Any]] = {}
    for o in outcomes:
        if o.categorization_id is None or not (o.changes or o.provenance_changed):
            continue
        values = {**o.target, "provenance": o.provenance}
        key = (json.dumps(values, sort_keys=True), bool(o.changes))
        groups.setdefault(key, []).append(o.categorization_id)
        payloads[key] = values
    for key, ids in groups.items():
        values = dict(payloads[key])
        if key[1]:
            values.update(revision=F("revision") + 1, updated_at=now)
        for start in range(0, len(ids), WRITE_CHUNK):
            Categorization.objects.filter(pk__in=ids[start : start + WRITE_CHUNK]).update(**values)
    rows_insert(
        LineDecision,
        ("transaction_id", "run_id", "at", "revision", "changes"),
        (
            (o.line_id, run.pk if run else None, now, o.revision + 1, _changes_json(o))
            for o in outcomes
            if o.changes
        ),
    )


def _changes_json(outcome: Outcome) -> dict[str, Any]:
    return {
        name: {
            "before": ch.before,
            "after": ch.after,
            "rule": ch.rule_id,
            "rule_name": ch.rule_name,
        }
        for name, ch in outcome.changes.items()
    }


# --- runs -------------------------------------------------------------------------------


def rule_run_start(
    *,
    scope: str,
    user: AbstractBaseUser | None = None,
    rule: Rule | None = None,
    account: CashAccount | None = None,
    first_seq: int | None = None,
    enqueue: bool = True,
) -> RuleRun:
    """Record a run (queued) and, after commit, hand it to a worker."""
    label = {
        RuleRun.Scope.ALL: "All lines",
        RuleRun.Scope.RULE: f"Lines of rule “{rule.name}”" if rule else "Lines of a rule",
        RuleRun.Scope.NEW_LINES: f"New lines of {account}" if account else "New lines",
        RuleRun.Scope.UNSEEN: "Lines the rules had not seen",
    }[RuleRun.Scope(scope)]
    sync = SyncRun.objects.create(
        kind=SyncRun.Kind.RULES, status=SyncRun.Status.QUEUED, account=account, label=label[:200]
    )
    run = RuleRun.objects.create(
        sync_run=sync,
        scope=scope,
        rule=rule,
        rule_key=rule.pk if rule else None,
        rule_name=rule.name if rule else "",
        account=account,
        first_seq=first_seq,
        requested_by=_user(user),
    )
    if user is not None:
        audit_record(
            action=AuditEntry.Action.RUN_REQUESTED, summary=label, user=user, rule=rule, run=run
        )
    if enqueue:
        from ledger.rules.tasks import apply_run

        transaction.on_commit(lambda: apply_run.delay(run.pk))
    return run


def _run_queryset(run: RuleRun) -> QuerySet[Transaction]:
    if run.scope == RuleRun.Scope.NEW_LINES:
        return Transaction.objects.filter(account_id=run.account_id, seq__gte=run.first_seq or 1)
    if run.scope == RuleRun.Scope.UNSEEN:
        return lines_unseen()
    return Transaction.objects.all()


def rule_run_execute(*, run_id: int) -> RuleRun:
    """Carry out a run with live progress. A redelivered run that already succeeded, or
    that the sweep queued again as another run, is left alone; one interrupted mid-way
    runs again from the start (harmless)."""
    run = RuleRun.objects.select_related("sync_run").get(pk=run_id)
    sync = run.sync_run
    if sync.status == SyncRun.Status.SUCCEEDED or "requeued_as" in sync.detail:
        return run
    queryset = _run_queryset(run)
    sync.status, sync.progress_done = SyncRun.Status.RUNNING, 0
    sync.progress_total = queryset.count()
    run_process_mark(sync)
    sync.save(update_fields=["status", "progress_done", "progress_total", "detail"])

    def progress(done: int) -> None:
        SyncRun.objects.filter(pk=sync.pk).update(progress_done=min(done, sync.progress_total))

    focus_id = run.rule_key if run.scope == RuleRun.Scope.RULE else None
    try:
        result = rules_apply(
            queryset=queryset, specs=specs_saved(), focus_id=focus_id, run=run, progress=progress
        )
    except Exception as exc:
        sync.status, sync.error, sync.finished_at = SyncRun.Status.FAILED, str(exc), timezone.now()
        sync.save(update_fields=["status", "error", "finished_at"])
        raise
    run.lines_seen, run.lines_changed = result.lines_seen, result.lines_changed
    run.fields_changed = result.fields_changed
    run.save(update_fields=["lines_seen", "lines_changed", "fields_changed"])
    sync.status, sync.finished_at = SyncRun.Status.SUCCEEDED, timezone.now()
    sync.progress_done = sync.progress_total
    sync.created_count = result.lines_changed
    sync.skipped_count = result.lines_seen - result.lines_changed
    sync.detail = {"lines_seen": result.lines_seen, "fields_changed": result.fields_changed}
    sync.save()
    if run.requested_by_id is None:  # the worker's own runs (new lines, sweep) are not audited
        return run
    audit_record(
        action=AuditEntry.Action.RUN_FINISHED,
        run=run,
        rule_name=run.rule_name,
        summary=f"{sync.label}: {result.lines_changed} of {result.lines_seen} lines changed",
    )
    return run


def rule_run_requeue(sync: SyncRun) -> SyncRun | None:
    """The sweep's re-queue of an interrupted run: the same scope, as a new run."""
    run = RuleRun.objects.filter(sync_run=sync).select_related("rule", "account").first()
    if run is None:
        return None
    again = rule_run_start(
        scope=run.scope, rule=run.rule, account=run.account, first_seq=run.first_seq
    )
    return again.sync_run


def rules_apply_new_lines(*, account_id: int, first_seq: int) -> RuleRun | None:
    """Categorize lines just stored (called by the worker after `lines_stored`)."""
    account = CashAccount.objects.filter(pk=account_id).first()
    if account is None:
        return None
    run = rule_run_start(
        scope=RuleRun.Scope.NEW_LINES, account=account, first_seq=first_seq, enqueue=False
    )
    return rule_run_execute(run_id=run.pk)


def rules_apply_unseen() -> RuleRun | None:
    """Catch up on lines no rule run has seen (a task lost while the broker was down)."""
    if not lines_unseen().exists():
        return None
    run = rule_run_start(scope=RuleRun.Scope.UNSEEN, enqueue=False)
    return rule_run_execute(run_id=run.pk)


# --- rules ------------------------------------------------------------------------------


def rule_snapshot(
    rule: Rule, conditions: Sequence[Condition], actions: Sequence[Action]
) -> dict[str, Any]:
    """A readable copy of a rule for the audit trail."""
    return {
        "name": rule.name,
        "position": rule.position,
        "match": rule.match,
        "stop": rule.stop_processing,
        "active": rule.is_active,
        "conditions": [condition_describe(c) for c in conditions],
        "actions": [action_describe(a) for a in actions],
    }


def condition_describe(c: Condition) -> str:
    if c.field == Condition.Field.AMOUNT:
        kind = "absolute amount" if c.amount_absolute else "signed amount"
        low = "…" if c.amount_min is None else f"{c.amount_min.normalize():f}"
        high = "…" if c.amount_max is None else f"{c.amount_max.normalize():f}"
        return f"{kind} between {low} and {high}"
    if c.field == Condition.Field.CASH_ACCOUNT:
        return f"cash account is {c.cash_account}"
    case = " (case-sensitive)" if c.case_sensitive and c.field in Condition.TEXT_FIELDS else ""
    return f"{c.get_field_display().lower()} {c.get_operator_display()} “{c.value}”{case}"


def action_describe(a: Action) -> str:
    if a.kind == Action.Kind.TRACKING:
        return f"tracking {a.value} = {a.option}"
    if a.kind == Action.Kind.TREATMENT:
        return f"treat as {Categorization.Treatment(a.value).label.lower()}"
    label = {
        Action.Kind.ACCOUNT_CODE: "account",
        Action.Kind.TAX_TYPE: "tax type",
        Action.Kind.CONTACT: "contact",
    }[Action.Kind(a.kind)]
    return f"{label} {a.value}"


def rule_next_position() -> int:
    """Where a new rule goes: after every existing rule."""
    last = Rule.objects.order_by("-position").values_list("position", flat=True).first()
    return (last or 0) + 1


def rule_save(
    *,
    rule: Rule,
    conditions: Sequence[Condition],
    actions: Sequence[Action],
    user: AbstractBaseUser | None,
    apply: bool,
) -> tuple[Rule, RuleRun | None]:
    """Create or change a rule with its conditions and actions (replaced wholesale);
    with `apply`, start a run over the lines this rule matches or had set."""
    with transaction.atomic():
        created = rule.pk is None
        before = None
        if not created:
            old = Rule.objects.get(pk=rule.pk)
            before = rule_snapshot(old, list(old.conditions.all()), list(old.actions.all()))
        else:
            rule.position = rule_next_position()
            rule.created_by = _user(user)
        rule.updated_by, rule.updated_at = _user(user), timezone.now()
        rule.save()
        Condition.objects.filter(rule=rule).delete()
        Action.objects.filter(rule=rule).delete()
        for item in (*conditions, *actions):
            item.pk, item.rule = None, rule
        Condition.objects.bulk_create(conditions)
        Action.objects.bulk_create(actions)
        after = rule_snapshot(rule, conditions, actions)
        audit_record(
            action=AuditEntry.Action.RULE_CREATED if created else AuditEntry.Action.RULE_CHANGED,
            summary=f"{'Created' if created else 'Changed'} rule “{rule.name}”",
            user=user,
            rule=rule,
            detail={"before": before, "after": after},
        )
        run = rule_run_start(scope=RuleRun.Scope.RULE, user=user, rule=rule) if apply else None
    return rule, run


def rule_delete(*, rule: Rule, user: AbstractBaseUser | None) -> RuleRun:
    """Delete a rule and re-apply the rules to the lines it had set (in the background)."""
    with transaction.atomic():
        snapshot = rule_snapshot(rule, list(rule.conditions.all()), list(rule.actions.all()))
        run = rule_run_start(scope=RuleRun.Scope.RULE, user=user, rule=rule)
        audit_record(
            action=AuditEntry.Action.RULE_DELETED,
            summary=f"Deleted rule “{rule.name}”",
            user=user,
            rule_name=rule.name,
            run=run,
            detail={"before": snapshot},
        )
        rule.delete()
        _positions_compact()
    return run


def _positions_compact() -> None:
    rules = list(Rule.objects.order_by("position", "id"))
    for number, rule in enumerate(rules, 1):
        rule.position = number
    Rule.objects.bulk_update(rules, ["position"], batch_size=500)


def rules_reorder(*, order: Sequence[int], user: AbstractBaseUser | None) -> None:
    """Put the rules in the given order (every rule id exactly once)."""
    with transaction.atomic():
        rules = {rule.pk: rule for rule in Rule.objects.select_for_update()}
        if sorted(order) != sorted(rules):
            raise RuleOrderError("The rules changed since this page was loaded; reload it.")
        before = [r.name for r in sorted(rules.values(), key=lambda r: (r.position, r.pk))]
        for number, pk in enumerate(order, 1):
            rules[pk].position = number
        Rule.objects.bulk_update(rules.values(), ["position"], batch_size=500)
        audit_record(
            action=AuditEntry.Action.RULES_REORDERED,
            summary="Reordered the rules",
            user=user,
            detail={"before": before, "after": [rules[pk].name for pk in order]},
        )


def rule_move(*, rule: Rule, offset: int, user: AbstractBaseUser | None) -> None:
    """Move a rule up (-1) or down (+1) one place."""
    order = list(Rule.objects.order_by("position", "id").values_list("pk", flat=True))
    index = order.index(rule.pk)
    target = max(0, min(len(order) - 1, index + offset))
    if target == index:
        return
    order.insert(target, order.pop(index))
    rules_reorder(order=order, user=user)


def rules_defaults_restore(*, user: AbstractBaseUser | None) -> list[Rule]:
    with transaction.atomic():
        created = defaults.defaults_install(Rule, Condition, Action)
        if created:
            audit_record(
                action=AuditEntry.Action.DEFAULTS_RESTORED,
                user=user,
                summary=f"Restored {len(created)} default rule(s)",
                detail={"rules": [r.name for r in created]},
            )
    return created


# --- hand edits -------------------------------------------------------------------------


def categorization_edit(
    *, line: Transaction, user: AbstractBaseUser | None, values: dict[str, Any], locked: set[str]
) -> Categorization:
    """Set booking fields by hand. A field whose value changes is locked against rules;
    `locked` lists the fields to keep locked. A field that becomes unlocked goes back to
    the rules at once (they are applied to this line)."""
    with transaction.atomic():
        categ, _ = Categorization.objects.select_for_update().get_or_create(transaction=line)
        at = timezone.now()
        who = {"user": user.get_username() if user else "", "user_id": getattr(user, "pk", None)}
        changes: dict[str, Any] = {}
        for name in BOOKING_FIELDS:
            if name not in values or values[name] == getattr(categ, name):
                continue
            changes[name] = {
                "before": getattr(categ, name),
                "after": values[name],
                "rule": None,
                "rule_name": None,
                "user": who["user"],
            }
            setattr(categ, name, values[name])
            categ.provenance[name] = {**who, "at": at.isoformat()}
        new_locked = (set(locked) | set(changes)) & set(BOOKING_FIELDS)
        unlocked = set(categ.locked_fields) - new_locked
        lock_changed = new_locked != set(categ.locked_fields)
        categ.locked_fields = [name for name in BOOKING_FIELDS if name in new_locked]
        if changes:
            categ.revision += 1
            categ.updated_at = at
            LineDecision.objects.create(
                transaction=line, user=_user(user), at=at, changes=changes, revision=categ.revision
            )
        categ.save()
        if changes or lock_changed:
            audit_record(
                action=AuditEntry.Action.LINE_EDITED,
                user=user,
                line_id=line.pk,
                summary=f"Line {line.pk}: " + (", ".join(changes) or "locks") + " set by hand",
                detail={"changes": changes, "locked": categ.locked_fields},
            )
        if unlocked:
            audit_record(
                action=AuditEntry.Action.LINE_UNLOCKED,
                user=user,
                line_id=line.pk,
                summary=f"Line {line.pk}: {', '.join(sorted(unlocked))} back to the rules",
            )
            rules_apply(queryset=Transaction.objects.filter(pk=line.pk), specs=specs_saved())
            categ.refresh_from_db()
    return categ
