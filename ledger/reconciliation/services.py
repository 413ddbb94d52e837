"""Writes of reconciliation: a run, and the owner's actions on the mismatch queue.

**A run** (`reconcile`) loads the Wise lines of the mapped cash accounts and the live
Xero entries of their bank accounts, lets the matcher pair them, then stores the result
against what the previous run stored, in one transaction (a crash leaves the previous
state whole):
- a match found again (same members) keeps its row; one no longer found is undone "by
  reconciliation" (its lines are free again); manual links stay while their members do;
- a difference seen again keeps its mismatch; an open one follows the difference (a
  "changed" event when it changes); an ignored or hand-resolved one stays so unless the
  difference changes; one that is gone resolves itself ("resolved by reconciliation") and
  reopens if it comes back;
- each day Xero's bank balance was read is compared with Wise's balance at that moment.
Runs after every Wise ingest and Xero read-back (enqueued on commit) and nightly; one at a
time per organisation (a lease: a second asks the first to go round once more).

**Actions** record who did what in `MismatchEvent` and re-run the affected accounts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from accounts.balances import balance_window
from accounts.models import CashAccount, SyncRun, Transaction
from accounts.runs import (
    lease_release_orphaned,
    run_process_mark,
    runs_holders_dead,
    runs_orphaned_fail,
)
from ledger.books.keys import posting_key_parse
from ledger.models import (
    BankAccountMapping,
    BankBalance,
    ChartAccount,
    LedgerEntry,
    Organisation,
    Posting,
)
from ledger.reconciliation import matcher
from ledger.reconciliation.conf import tolerances
from ledger.reconciliation.models import (
    BalanceCheck,
    Match,
    MatchItem,
    Mismatch,
    MismatchEvent,
    ReconcileLease,
)
from ledger.rules.models import Categorization

logger = logging.getLogger("bulwark.reconciliation")

LEASE = timedelta(minutes=30)
CHUNK = 500
DEAD_STATUSES = LedgerEntry.DEAD_STATUSES
EXCLUDE = "EXCLUDE"
LINKABLE = (
    Mismatch.Type.MISSING_IN_XERO,
    Mismatch.Type.MISSING_IN_WISE,
    Mismatch.Type.DUPLICATE_IN_XERO,
)


class ActionRefused(ValueError):
    """The owner's action cannot be done; the message says why, fit to show."""


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- scope -------------------------------------------------------------------------------


@dataclass
class Scope:
    """The bank accounts ("books") a run covers and the cash accounts mapped to them."""

    books: dict[str, ChartAccount]  # Xero AccountID → account
    accounts: dict[int, str]  # cash account id → Xero AccountID
    full: bool

    def book_account(self) -> dict[str, int]:
        """Each book's first cash account: where its entry-side mismatches are filed."""
        first: dict[str, int] = {}
        for account_id in sorted(self.accounts):
            first.setdefault(self.accounts[account_id], account_id)
        return first


def scope_of(organisation: Organisation, account_ids: Iterable[int] | None = None) -> Scope:
    mappings = list(
        BankAccountMapping.objects.filter(organisation=organisation).select_related("chart_account")
    )
    wanted = set(account_ids) if account_ids else None
    books = {
        m.chart_account.account_id: m.chart_account
        for m in mappings
        if wanted is None or m.cash_account_id in wanted
    }
    accounts = {
        m.cash_account_id: m.chart_account.account_id
        for m in mappings
        if m.chart_account.account_id in books
    }
    return Scope(books=books, accounts=accounts, full=wanted is None)


def organisations_reconcilable() -> list[Organisation]:
    """The organisation of the current Xero connection, once it has mapped accounts."""
    from ledger.xero.session import connection_current

    current = connection_current()
    organisation = current.organisation if current is not None else None
    if organisation is None or not organisation.mappings.exists():
        return []
    return [organisation]


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
    lines = _lines_load(organisation, scope, grace)
    result.lines = len(lines)
    _step(run, "lines", result)
    entries = _entries_load(organisation, scope, lines, grace)
    result.entries = len(entries)
    _step(run, "entries", result)
    active = _matches_active(organisation, scope)
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
        ids = _matches_store(
            organisation, outcome.matches, active, manual, lines, entries, now, result
        )
        _step(run, "matches", result)
        held = [*((sig, members[0], members[1]) for sig, members in manual.items()),
                *((p.signature, p.lines, p.entries) for p in outcome.matches)]  # fmt: skip
        differences = matcher.line_differences(
            lines, entries, held, outcome, book_account=scope.book_account(), window=tol.window_days
        )
        balance, covered = _balance_differences(organisation, scope)
        mismatch_ids = _mismatches_store(
            organisation, scope, [*differences, *balance], ids, now, result
        )
        _step(run, "mismatches", result)
        result.balance_days = _balance_checks_store(organisation, covered, mismatch_ids, now)
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


def _lines_load(
    organisation: Organisation, scope: Scope, grace: datetime
) -> dict[int, matcher.Line]:
    """The lines of the scope's cash accounts. Required in Xero: not excluded by its
    categorization, not before the organisation's first posted day, stored before the
    last read-back (which could have seen it) and longer ago than the grace."""
    rows = (
        Transaction.objects.filter(account_id__in=list(scope.accounts))
        .exclude(amount_minor=0)
        .order_by()
        .values_list(
            "id",
            "account_id",
            "booked_on",
            "amount_minor",
            "fee_minor",
            "currency",
            "reference_number",
            "counterparty",
        )
    )
    excluded = set(
        Categorization.objects.filter(
            transaction__account_id__in=list(scope.accounts), treatment=EXCLUDE
        ).values_list("transaction_id", flat=True)
    )
    pulled = organisation.last_pull_at
    expected_before = min(pulled, grace) if pulled else None
    recent = (
        set(
            Transaction.objects.filter(
                account_id__in=list(scope.accounts), created_at__gt=expected_before
            ).values_list("id", flat=True)
        )
        if expected_before
        else set()
    )
    first_day = organisation.post_from.toordinal() if organisation.post_from else 0
    lines = {}
    for pk, account_id, day, amount, fee, currency, reference, counterparty in rows:
        ordinal = day.toordinal()
        lines[pk] = matcher.Line(
            id=pk,
            book=scope.accounts[account_id],
            account_id=account_id,
            day=ordinal,
            amount=amount,
            currency=currency,
            fee=fee,
            reference=reference,
            counterparty=counterparty,
            required=expected_before is not None
            and pk not in excluded
            and pk not in recent
            and ordinal >= first_day,
        )
    return lines


def _entries_load(
    organisation: Organisation, scope: Scope, lines: dict[int, matcher.Line], grace: datetime
) -> dict[int, matcher.Entry]:
    """Live entries (not deleted or voided) of the scope's bank accounts. Reported when
    unmatched only if dated within Wise's record of that account (on or after its first
    line) and changed in Xero longer ago than the grace."""
    live = LedgerEntry.objects.filter(
        organisation=organisation, bank_account_id__in=list(scope.books)
    ).exclude(status__in=DEAD_STATUSES)
    rows = live.order_by().values_list(
        "id", "bank_account_id", "date", "amount_minor", "currency", "reference", "posting_key",
        "contact_name", "remote_id",
    )  # fmt: skip
    recent = set(live.filter(updated_at_utc__gt=grace).values_list("id", flat=True))
    coverage: dict[str, int] = {}
    for line in lines.values():
        if line.book not in coverage or line.day < coverage[line.book]:
            coverage[line.book] = line.day
    entries, remote_ids = {}, {}
    keyed: Counter[int] = Counter()
    for pk, book, day, amount, currency, reference, key, contact, remote_id in rows:
        ordinal = day.toordinal()
        key_line = posting_key_parse(key) if key else None
        if key_line is not None:
            keyed[key_line] += 1
        start = coverage.get(book)
        entries[pk] = matcher.Entry(
            id=pk,
            book=book,
            day=ordinal,
            amount=amount,
            currency=currency,
            reference=reference,
            key_line=key_line,
            contact=contact,
            required=start is not None and ordinal >= start and pk not in recent,
        )
        remote_ids[pk] = remote_id
    repeated = [line_id for line_id, count in keyed.items() if count > 1]
    if repeated:
        # Several entries carry one line's key: the one the posting record holds is it.
        held = dict(
            Posting.objects.filter(
                organisation=organisation, transaction_id__in=repeated
            ).values_list("transaction_id", "remote_id")
        )
        for entry in entries.values():
            if entry.key_line in held and held[entry.key_line] == remote_ids[entry.id]:
                entry.canonical = True
    return entries


def _matches_active(
    organisation: Organisation, scope: Scope
) -> dict[str, tuple[int, str, str, tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Active matches of the scope: signature → (id, method, fingerprint, members)."""
    matches = Match.objects.filter(organisation=organisation, undone_at__isnull=True)
    if not scope.full:
        matches = matches.filter(account_id__in=list(scope.accounts))
    rows = list(matches.values_list("id", "method", "signature", "fingerprint"))
    return {
        signature: (pk, method, fingerprint, _members(signature))
        for pk, method, signature, fingerprint in rows
    }


def _members(signature: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    lines, entries = matcher.signature_parse(signature)
    return tuple(lines), tuple(entries)


def _fingerprint(proposal: matcher.Proposal) -> str:
    """What the match says, compactly: a rerun updates a match only when this changes."""
    f = proposal.factors
    text = (
        f"{proposal.method}:{proposal.score}:{f['amount']['delta_minor']}:{f['date']['days']}:"
        f"{f['reference']['value']}:{f['counterparty']['points']}:{'fee_apart' in f}"
    )
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _matches_store(
    organisation: Organisation,
    proposals: list[matcher.Proposal],
    active: dict[str, tuple[int, str, str, tuple[tuple[int, ...], tuple[int, ...]]]],
    manual: dict[str, tuple[tuple[int, ...], tuple[int, ...]]],
    lines: dict[int, matcher.Line],
    entries: dict[int, matcher.Entry],
    now: datetime,
    result: RunResult,
) -> dict[str, int]:
    """Keep what was found again, undo what was not, create the new; signature → id."""
    wanted = {p.signature: p for p in proposals}
    active_methods = {pk: method for pk, method, _, _ in active.values()}
    ids: dict[str, int] = {}
    undo: list[int] = []
    changed: list[Match] = []
    for signature, (pk, method, fingerprint, _) in active.items():
        proposal = wanted.pop(signature, None)
        if method == Match.Method.MANUAL:
            if signature in manual:
                ids[signature] = pk
            else:
                undo.append(pk)
        elif proposal is None:
            undo.append(pk)
        else:
            ids[signature] = pk
            new_fingerprint = _fingerprint(proposal)
            if new_fingerprint != fingerprint:
                changed.append(
                    Match(
                        pk=pk,
                        method=proposal.method,
                        score=proposal.score,
                        factors=proposal.factors,
                        fingerprint=new_fingerprint,
                    )
                )
    _links_broken([pk for pk in undo if active_methods.get(pk) == Match.Method.MANUAL], now)
    for chunk in _chunks(undo):
        Match.objects.filter(pk__in=chunk).update(
            undone_at=now,
            undone_reason="Re-examined: not found again (a member changed or is gone)",
        )
        MatchItem.objects.filter(match_id__in=chunk).delete()
    if changed:
        Match.objects.bulk_update(
            changed, ["method", "score", "factors", "fingerprint"], batch_size=CHUNK
        )
    created = _matches_create(organisation, list(wanted.values()), lines, entries, now)
    ids.update(created)
    result.matches_new, result.matches_undone = len(created), len(undo)
    return ids


def _links_broken(match_ids: list[int], now: datetime) -> None:
    """A manual link lost a member (deleted in Xero, say): what it resolved is open again."""
    events = []
    for mismatch in Mismatch.objects.filter(
        match_id__in=match_ids, resolution=Mismatch.Resolution.LINKED
    ):
        mismatch.status, mismatch.resolution = Mismatch.Status.OPEN, Mismatch.Resolution.NONE
        mismatch.status_changed_at, mismatch.status_changed_by = now, None
        mismatch.save(
            update_fields=["status", "resolution", "status_changed_at", "status_changed_by"]
        )
        events.append(
            _event(mismatch, MismatchEvent.Action.UNLINKED, now, "A linked line or entry is gone")
        )
    MismatchEvent.objects.bulk_create(events)


def _matches_create(
    organisation: Organisation,
    proposals: list[matcher.Proposal],
    lines: dict[int, matcher.Line],
    entries: dict[int, matcher.Entry],
    now: datetime,
) -> dict[str, int]:
    """Insert matches and their members with batched raw inserts: the ORM's per-object
    cost dominates a first run of 100,000 matches. Ids are read back by signature."""
    if not proposals:
        return {}
    ops = connection.ops
    factors_field = Match._meta.get_field("factors")
    # SQLite keeps JSON as text: plain json.dumps (the factors are ints and strings) is the
    # field's own preparation without its per-value overhead.
    prepare = (
        json.dumps
        if connection.vendor == "sqlite"
        else lambda value: factors_field.get_db_prep_save(value, connection)
    )
    created_at = ops.adapt_datetimefield_value(now)
    rows = []
    for proposal in proposals:
        if len(proposal.lines) == len(proposal.entries) == 1:
            day = min(lines[proposal.lines[0]].day, entries[proposal.entries[0]].day)
        else:
            day = min(
                *(lines[i].day for i in proposal.lines), *(entries[i].day for i in proposal.entries)
            )
        rows.append(
            (
                organisation.pk,
                proposal.method,
                proposal.signature,
                proposal.score,
                prepare(proposal.factors),
                _fingerprint(proposal),
                lines[proposal.lines[0]].account_id,
                ops.adapt_datefield_value(date.fromordinal(day)),
                created_at,
                "",
            )
        )
    columns = ("organisation_id", "method", "signature", "score", "factors", "fingerprint",
               "account_id", "day", "created_at", "undone_reason")  # fmt: skip
    _insert(Match, columns, rows)
    signatures = {p.signature for p in proposals}
    ids = {
        signature: pk
        for signature, pk in Match.objects.filter(
            organisation=organisation, undone_at__isnull=True, created_at=now
        ).values_list("signature", "id")
        if signature in signatures
    }
    items = []
    for proposal in proposals:
        pk = ids[proposal.signature]
        items.extend((pk, i, None) for i in proposal.lines)
        items.extend((pk, None, i) for i in proposal.entries)
    _insert(MatchItem, ("match_id", "transaction_id", "entry_id"), items)
    return ids


def _insert(model: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    quote = connection.ops.quote_name
    # Names come from the model's metadata, quoted; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, 5000):
            cursor.executemany(sql, chunk)


# --- balances ----------------------------------------------------------------------------


@dataclass
class _Check:
    chart_account: ChartAccount
    account_ids: list[int]
    balance: matcher.DayBalance
    currency: str
    read_at: datetime
    key: str = ""


def _balance_differences(
    organisation: Organisation, scope: Scope
) -> tuple[list[matcher.Difference], list[_Check]]:
    """Each day Xero's balance was read, against Wise's balance of the mapped cash
    account(s) at the moment it was read: the closing of the day, less the lines booked
    that day after the read (Xero could not have had them)."""
    book_accounts: dict[str, list[int]] = defaultdict(list)
    for account_id, book in sorted(scope.accounts.items()):
        book_accounts[book].append(account_id)
    by_pk = {account.pk: account for account in scope.books.values()}
    rows = list(
        BankBalance.objects.filter(organisation=organisation, chart_account_id__in=list(by_pk))
        .order_by("as_of")
        .values_list("chart_account_id", "as_of", "closing_minor", "fetched_at", "currency")
    )
    if not rows:
        return [], []
    account_ids = list(scope.accounts)
    first_day, last_day = min(r[1] for r in rows), max(r[1] for r in rows)
    # Wise's side is the one balance every page shows (`accounts.balances`).
    timelines = balance_window(
        after=first_day - timedelta(days=1), until=last_day,
        accounts=CashAccount.objects.filter(pk__in=account_ids),
    ).timelines()  # fmt: skip
    late = _late_sums(organisation, scope, book_accounts, first_day)
    checks: list[_Check] = []
    by_book: dict[int, list[_Check]] = defaultdict(list)
    for chart_account_id, day, closing, read_at, currency in rows:
        account = by_pk[chart_account_id]
        members = book_accounts[account.account_id]
        wise = 0
        for account_id in members:
            wise += timelines[account_id].closing(day) - late.get((account_id, day), 0)
        check = _Check(account, members, matcher.DayBalance(day, closing, wise), currency, read_at)
        checks.append(check)
        by_book[chart_account_id].append(check)
    differences = []
    for chart_account_id, book_checks in by_book.items():
        found = matcher.balance_differences(
            subject=f"x{chart_account_id}",
            account_id=book_checks[0].account_ids[0],
            currency=book_checks[0].currency,
            days=[c.balance for c in book_checks],
        )
        covered = {}
        for difference, days in found:
            differences.append(difference)
            covered.update(dict.fromkeys(days, difference.key))
        for check in book_checks:
            check.key = covered.get(check.balance.day, "")
    return differences, checks


def _late_sums(
    organisation: Organisation,
    scope: Scope,
    book_accounts: dict[str, list[int]],
    since: date,
) -> dict[tuple[int, date], int]:
    """Per account and day: the lines booked after Xero's balance of that day was read."""
    late: dict[tuple[int, date], int] = {}
    for book, account_ids in book_accounts.items():
        read_at = BankBalance.objects.filter(
            organisation=organisation, chart_account=scope.books[book], as_of=OuterRef("booked_on")
        ).values("fetched_at")[:1]
        rows = (
            Transaction.objects.filter(account_id__in=account_ids, booked_on__gte=since)
            .filter(booked_at__gt=Subquery(read_at))
            .order_by()
            .values_list("account_id", "booked_on")
            .annotate(total=Sum("amount_minor"))
        )
        for account_id, day, total in rows:
            late[(account_id, day)] = total
    return late


def _balance_checks_store(
    organisation: Organisation,
    checks: list[_Check],
    mismatch_ids: dict[str, int],
    now: datetime,
) -> int:
    account_ids = sorted({a for check in checks for a in check.account_ids})
    existing = {
        (c.account_id, c.day): c
        for c in BalanceCheck.objects.filter(organisation=organisation, account_id__in=account_ids)
    }
    creates, updates = [], []
    for check in checks:
        for account_id in check.account_ids:
            values = {
                "chart_account": check.chart_account,
                "books_minor": check.balance.xero,
                "wise_minor": check.balance.wise,
                "currency": check.currency,
                "books_read_at": check.read_at,
                "mismatch_id": mismatch_ids.get(check.key) if check.key else None,
                "checked_at": now,
            }
            row = existing.get((account_id, check.balance.day))
            if row is None:
                creates.append(
                    BalanceCheck(
                        organisation=organisation,
                        account_id=account_id,
                        day=check.balance.day,
                        **values,
                    )
                )
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                updates.append(row)
    BalanceCheck.objects.bulk_create(creates, batch_size=CHUNK)
    BalanceCheck.objects.bulk_update(
        updates,
        ["chart_account", "books_minor", "wise_minor", "currency", "books_read_at", "mismatch",
         "checked_at"],
        batch_size=CHUNK,
    )  # fmt: skip
    return len(checks)


# --- mismatches --------------------------------------------------------------------------

MISMATCH_FIELDS = [
    "fingerprint", "status", "resolution", "ignore_reason", "accepted_side", "account",
    "transaction", "entry",
    "match", "day", "amount_minor", "currency", "summary", "detail", "last_seen_at",
    "status_changed_at", "status_changed_by",
]  # fmt: skip


def _apply(mismatch: Mismatch, difference: matcher.Difference, match_ids: dict[str, int]) -> None:
    mismatch.fingerprint = difference.fingerprint
    mismatch.account_id = difference.account_id
    mismatch.transaction_id = difference.line_id
    mismatch.entry_id = difference.entry_id
    mismatch.match_id = match_ids.get(difference.signature) if difference.signature else None
    mismatch.day = difference.day
    mismatch.amount_minor = difference.amount
    mismatch.currency = difference.currency
    mismatch.summary = difference.summary[:300]
    mismatch.detail = difference.detail


def _event(
    mismatch: Mismatch,
    action: str,
    now: datetime,
    note: str = "",
    actor: AbstractBaseUser | None = None,
    **detail: Any,
) -> MismatchEvent:
    return MismatchEvent(
        mismatch_id=mismatch.pk, at=now, actor=actor, action=action, note=note, detail=detail
    )


def _mismatches_store(
    organisation: Organisation,
    scope: Scope,
    differences: list[matcher.Difference],
    match_ids: dict[str, int],
    now: datetime,
    result: RunResult,
) -> dict[str, int]:
    """Bring the queue in step with the differences found (see the module docstring)."""
    wanted = {d.key: d for d in differences}
    current = Mismatch.objects.filter(organisation=organisation).exclude(
        status=Mismatch.Status.RESOLVED, resolution=Mismatch.Resolution.RECONCILED
    )
    if not scope.full:
        current = current.filter(account_id__in=list(scope.accounts))
    stored = {m.natural_key: m for m in current}
    for chunk in _chunks([key for key in wanted if key not in stored]):
        for mismatch in Mismatch.objects.filter(organisation=organisation, natural_key__in=chunk):
            stored[mismatch.natural_key] = mismatch
    creates, updates, seen, events = [], [], [], []
    for key, difference in wanted.items():
        mismatch = stored.get(key)
        if mismatch is None:
            mismatch = Mismatch(
                organisation=organisation,
                type=difference.type,
                natural_key=key,
                opened_at=now,
                last_seen_at=now,
                status_changed_at=now,
            )
            _apply(mismatch, difference, match_ids)
            creates.append(mismatch)
            continue
        differs = mismatch.fingerprint != difference.fingerprint
        gone_before = mismatch.resolution == Mismatch.Resolution.RECONCILED
        if mismatch.status == Mismatch.Status.OPEN and not differs:
            seen.append(mismatch.pk)
            continue
        before = mismatch.fingerprint
        if mismatch.status == Mismatch.Status.OPEN:
            note = f"Was {before or '—'}, now {difference.fingerprint or '—'}"
            events.append(_event(mismatch, MismatchEvent.Action.CHANGED, now, note))
            result.changed += 1
        elif gone_before or differs:
            note = (
                "The difference is back"
                if gone_before
                else f"The difference changed: was {before or '—'}, now {difference.fingerprint}"
            )
            events.append(_event(mismatch, MismatchEvent.Action.REOPENED, now, note))
            mismatch.status, mismatch.resolution = Mismatch.Status.OPEN, Mismatch.Resolution.NONE
            mismatch.ignore_reason, mismatch.accepted_side = "", Mismatch.Side.NONE
            mismatch.status_changed_at, mismatch.status_changed_by = now, None
            result.reopened += 1
        else:
            seen.append(mismatch.pk)  # ignored or resolved by hand, and unchanged
            continue
        _apply(mismatch, difference, match_ids)
        mismatch.last_seen_at = now
        updates.append(mismatch)
    for key, mismatch in stored.items():
        if key in wanted or mismatch.status == Mismatch.Status.RESOLVED:
            continue  # still there, or already resolved (by reconciliation or a link)
        mismatch.status, mismatch.resolution = (
            Mismatch.Status.RESOLVED,
            Mismatch.Resolution.RECONCILED,
        )
        mismatch.status_changed_at, mismatch.status_changed_by = now, None
        events.append(_event(mismatch, MismatchEvent.Action.RESOLVED, now,
                             "Resolved by reconciliation: the difference is gone"))  # fmt: skip
        updates.append(mismatch)
        result.resolved += 1
    Mismatch.objects.bulk_create(creates, batch_size=CHUNK)
    events.extend(_event(m, MismatchEvent.Action.OPENED, now, m.summary) for m in creates)
    result.opened += len(creates)
    Mismatch.objects.bulk_update(updates, MISMATCH_FIELDS, batch_size=CHUNK)
    for chunk in _chunks(seen):
        Mismatch.objects.filter(pk__in=chunk).update(last_seen_at=now)
    MismatchEvent.objects.bulk_create(events, batch_size=CHUNK)
    return {key: stored[key].pk if key in stored else 0 for key in wanted} | {
        m.natural_key: m.pk for m in creates
    }


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


# --- the owner's actions -------------------------------------------------------------------


def _accounts_of(mismatches: Iterable[Mismatch]) -> list[int]:
    return sorted({m.account_id for m in mismatches if m.account_id})


def mismatch_ignore(*, mismatch: Mismatch, user: AbstractBaseUser, reason: str) -> None:
    _set_aside(mismatch, user, reason, Mismatch.Side.NONE)


def mismatch_accept(
    *, mismatch: Mismatch, user: AbstractBaseUser, reason: str, right_side: str
) -> None:
    """Accept a difference with a reason, recording which side is right (Wise: Xero is
    to be corrected there; Xero: the books keep their figure). Like an ignored mismatch,
    it reopens if the difference changes."""
    if right_side not in (Mismatch.Side.WISE, Mismatch.Side.XERO):
        raise ActionRefused("Say which side is right: Wise or Xero.")
    _set_aside(mismatch, user, reason, Mismatch.Side(right_side))


def _set_aside(
    mismatch: Mismatch, user: AbstractBaseUser, reason: str, side: Mismatch.Side
) -> None:
    """Ignore (no side) or accept (a side) an open mismatch with a reason, in its history."""
    reason = reason.strip()
    verb = "accepted" if side else "ignored"
    if not reason:
        raise ActionRefused(f"Say why this mismatch is {verb}: a reason is required.")
    if mismatch.status != Mismatch.Status.OPEN:
        status = mismatch.get_status_display().lower()
        raise ActionRefused(f"Only open mismatches can be {verb}; this one is {status}.")
    now = timezone.now()
    with transaction.atomic():
        mismatch.status, mismatch.ignore_reason = Mismatch.Status.IGNORED, reason
        mismatch.accepted_side = side
        mismatch.status_changed_at, mismatch.status_changed_by = now, user
        mismatch.save(
            update_fields=[
                "status", "ignore_reason", "accepted_side", "status_changed_at",
                "status_changed_by",
            ]
        )  # fmt: skip
        if side:
            note, action = f"{side.label}: {reason}", MismatchEvent.Action.ACCEPTED
        else:
            note, action = reason, MismatchEvent.Action.IGNORED
        _event(mismatch, action, now, note, user, accepted_side=side.value).save()


def mismatch_reopen(*, mismatch: Mismatch, user: AbstractBaseUser) -> None:
    """Reopen an ignored mismatch, or one resolved by a manual link (the link is undone
    and the lines re-examined). One the reconciliation resolved has no difference left."""
    if mismatch.status == Mismatch.Status.OPEN:
        raise ActionRefused("This mismatch is already open.")
    if mismatch.resolution == Mismatch.Resolution.RECONCILED:
        raise ActionRefused(
            "The difference is gone (resolved by reconciliation): nothing to reopen."
        )
    now = timezone.now()
    with transaction.atomic():
        link = mismatch.match if mismatch.resolution == Mismatch.Resolution.LINKED else None
        mismatch.status, mismatch.resolution = Mismatch.Status.OPEN, Mismatch.Resolution.NONE
        mismatch.ignore_reason, mismatch.accepted_side = "", Mismatch.Side.NONE
        mismatch.status_changed_at, mismatch.status_changed_by = now, user
        mismatch.save(
            update_fields=[
                "status",
                "resolution",
                "ignore_reason",
                "accepted_side",
                "status_changed_at",
                "status_changed_by",
            ]
        )
        note = f"The link {link.signature} is undone" if link is not None else ""
        _event(mismatch, MismatchEvent.Action.REOPENED, now, note, user).save()
        if link is not None and link.is_active:
            _match_undo(link, user, "Reopened the mismatch it resolved", now)
    if link is not None:
        reconcile(organisation_id=mismatch.organisation_id, account_ids=_accounts_of([mismatch]))


def _match_undo(match: Match, user: AbstractBaseUser | None, reason: str, now: datetime) -> None:
    match.undone_at, match.undone_by, match.undone_reason = now, user, reason[:300]
    match.save(update_fields=["undone_at", "undone_by", "undone_reason"])
    match.items.all().delete()
    for mismatch in Mismatch.objects.filter(match=match, resolution=Mismatch.Resolution.LINKED):
        mismatch.status, mismatch.resolution = Mismatch.Status.OPEN, Mismatch.Resolution.NONE
        mismatch.status_changed_at, mismatch.status_changed_by = now, user
        mismatch.save(
            update_fields=["status", "resolution", "status_changed_at", "status_changed_by"]
        )
        _event(mismatch, MismatchEvent.Action.UNLINKED, now, reason, user).save()


def match_undo(*, match: Match, user: AbstractBaseUser, reason: str = "") -> None:
    """Undo a match: its lines and entries are examined again, and this pairing is never
    proposed automatically again."""
    if not match.is_active:
        raise ActionRefused("This match is already undone.")
    with transaction.atomic():
        _match_undo(match, user, reason or "Undone by hand", timezone.now())
    reconcile(
        organisation_id=match.organisation_id,
        account_ids=[match.account_id] if match.account_id else None,
    )


def link_candidates(
    mismatch: Mismatch, *, days: int = 31
) -> tuple[list[Transaction], list[LedgerEntry]]:
    """Unmatched lines and live entries of the mismatch's bank account dated near it."""
    scope = scope_of(mismatch.organisation, [mismatch.account_id] if mismatch.account_id else [])
    since, until = mismatch.day - timedelta(days=days), mismatch.day + timedelta(days=days)
    taken_lines = MatchItem.objects.filter(transaction__isnull=False).values("transaction_id")
    taken_entries = MatchItem.objects.filter(entry__isnull=False).values("entry_id")
    lines = (
        Transaction.objects.filter(
            account_id__in=list(scope.accounts), booked_on__range=(since, until)
        )
        .exclude(pk__in=taken_lines)
        .exclude(amount_minor=0)
        .select_related("account")
        .order_by("booked_on", "id")[:200]
    )
    entries = (
        LedgerEntry.objects.filter(
            organisation=mismatch.organisation,
            bank_account_id__in=list(scope.books),
            date__range=(since, until),
        )
        .exclude(status__in=DEAD_STATUSES)
        .exclude(pk__in=taken_entries)
        .order_by("date", "id")[:200]
    )
    return list(lines), list(entries)


def mismatch_link(
    *, mismatch: Mismatch, user: AbstractBaseUser, line_ids: Sequence[int], entry_ids: Sequence[int]
) -> Match:
    """Match by hand: the chosen lines and entries (with the mismatch's own) become one
    match; the mismatch is resolved as linked, and the account reconciled again."""
    if mismatch.type not in LINKABLE:
        raise ActionRefused("Only a missing or duplicate line or entry can be linked by hand.")
    if mismatch.status != Mismatch.Status.OPEN:
        raise ActionRefused("Only open mismatches can be linked.")
    lines = set(line_ids) | (
        {mismatch.transaction_id} if mismatch.type == Mismatch.Type.MISSING_IN_XERO else set()
    )
    entries = set(entry_ids) | (
        {mismatch.entry_id}
        if mismatch.type != Mismatch.Type.MISSING_IN_XERO and mismatch.entry_id
        else set()
    )
    if not lines or not entries:
        raise ActionRefused("Choose at least one Wise line and one Xero entry to link.")
    if len(lines) + len(entries) > matcher.MAX_GROUP + 2:
        raise ActionRefused(f"Link at most {matcher.MAX_GROUP + 2} lines and entries at once.")
    scope = scope_of(mismatch.organisation, [mismatch.account_id] if mismatch.account_id else [])
    found_lines = list(
        Transaction.objects.filter(pk__in=lines, account_id__in=list(scope.accounts))
    )
    found_entries = list(
        LedgerEntry.objects.filter(
            pk__in=entries,
            organisation=mismatch.organisation,
            bank_account_id__in=list(scope.books),
        ).exclude(status__in=DEAD_STATUSES)
    )
    if len(found_lines) != len(lines) or len(found_entries) != len(entries):
        raise ActionRefused("Link only lines and live entries of this mismatch's bank account.")
    taken = MatchItem.objects.filter(
        Q(transaction_id__in=lines) | Q(entry_id__in=entries)
    ).select_related("match")
    if taken:
        raise ActionRefused(f"Already matched ({taken[0].match}): undo that match first.")
    now = timezone.now()
    records = [_line_record(t, scope) for t in found_lines]
    records_e = [_entry_record(e) for e in found_entries]
    score, factors = matcher.score_of(matcher.MANUAL, records, records_e, tolerances().window_days)
    with transaction.atomic():
        match = Match.objects.create(
            organisation=mismatch.organisation,
            method=Match.Method.MANUAL,
            signature=matcher.signature_of(lines, entries),
            score=score,
            factors=factors,
            account_id=found_lines[0].account_id,
            day=min([t.booked_on for t in found_lines] + [e.date for e in found_entries]),
            created_at=now,
            created_by=user,
        )
        MatchItem.objects.bulk_create(
            [MatchItem(match=match, transaction_id=i) for i in sorted(lines)]
            + [MatchItem(match=match, entry_id=i) for i in sorted(entries)]
        )
        mismatch.status, mismatch.resolution, mismatch.match = (
            Mismatch.Status.RESOLVED,
            Mismatch.Resolution.LINKED,
            match,
        )
        mismatch.status_changed_at, mismatch.status_changed_by = now, user
        mismatch.save(
            update_fields=[
                "status",
                "resolution",
                "match",
                "status_changed_at",
                "status_changed_by",
            ]
        )
        _event(mismatch, MismatchEvent.Action.LINKED, now, f"Linked as {match.signature}", user,
               lines=sorted(lines), entries=sorted(entries)).save()  # fmt: skip
    reconcile(organisation_id=mismatch.organisation_id, account_ids=_accounts_of([mismatch]))
    return match


def _line_record(line: Transaction, scope: Scope) -> matcher.Line:
    return matcher.Line(
        id=line.pk, book=scope.accounts.get(line.account_id, ""), account_id=line.account_id,
        day=line.booked_on.toordinal(), amount=line.amount_minor, currency=line.currency,
        fee=line.fee_minor, reference=line.reference_number, counterparty=line.counterparty,
    )  # fmt: skip


def _entry_record(entry: LedgerEntry) -> matcher.Entry:
    return matcher.Entry(
        id=entry.pk, book=entry.bank_account_id, day=entry.date.toordinal(),
        amount=entry.amount_minor, currency=entry.currency, reference=entry.reference,
        contact=entry.contact_name,
    )  # fmt: skip


@dataclass
class PostOutcome:
    posted: int = 0
    failed: list[str] = field(default_factory=list)


def _organisation_writable(mismatches: Sequence[Mismatch], doing: str) -> Organisation:
    """The one organisation of the mismatches, when Bulwark may write to it."""
    if not mismatches:
        raise ActionRefused("Choose the mismatches first.")
    if len({m.organisation_id for m in mismatches}) != 1:
        raise ActionRefused("Act on the mismatches of one Xero organisation at a time.")
    organisation = mismatches[0].organisation
    if not organisation.posts:
        raise ActionRefused(
            f"Audit only: Bulwark never writes to Xero in this mode, so it cannot {doing}. "
            "Correct it in Xero (or let Wise's own feed do it), or choose “Bulwark posts” on "
            "the Books page first."
        )
    return organisation


def _books_round(
    organisation: Organisation, mismatches: Sequence[Mismatch], user: AbstractBaseUser,
    failed: str,
) -> None:  # fmt: skip
    """Push, read the books back, and reconcile the mismatches' accounts. A push that did
    not run is recorded on each mismatch (`failed`) and refused."""
    from ledger import services as books

    push = books.xero_push(organisation_id=organisation.pk)
    if push.status != SyncRun.Status.SUCCEEDED:
        reason = push.detail.get("reason") or push.error or push.get_status_display()
        now = timezone.now()
        MismatchEvent.objects.bulk_create(
            [_event(m, failed, now, reason, user) for m in mismatches]
        )
        raise ActionRefused(f"Posting to Xero did not run: {reason}")
    books.xero_pull(organisation_id=organisation.pk)
    reconcile(organisation_id=organisation.pk, account_ids=_accounts_of(mismatches))


def _outcome(
    mismatches: Sequence[Mismatch], postings: dict[int, Posting], user: AbstractBaseUser,
    *, since: datetime, done: str, failed: str, said: str,
) -> PostOutcome:  # fmt: skip
    """What the push did for each mismatch's line, in the outcome and each one's history."""
    outcome, events, now = PostOutcome(), [], timezone.now()
    for mismatch in mismatches:
        posting = postings.get(mismatch.transaction_id or 0)
        if posting is not None:
            posting.refresh_from_db()
        if (
            posting is not None and posting.state == Posting.State.POSTED
            and posting.posted_at is not None and posting.posted_at >= since
        ):  # fmt: skip
            outcome.posted += 1
            events.append(_event(mismatch, done, now, f"{said} {posting.remote_id}", user,
                                 remote_id=posting.remote_id))  # fmt: skip
            continue
        errors = "; ".join(posting.errors) if posting is not None and posting.errors else ""
        outcome.failed.append(f"{mismatch.summary}: {errors or 'not sent'}")
        events.append(_event(mismatch, failed, now, errors or "not sent", user))
    MismatchEvent.objects.bulk_create(events)
    return outcome


def mismatches_post(*, mismatches: Sequence[Mismatch], user: AbstractBaseUser) -> PostOutcome:
    """Post the lines missing in Xero through the books' push, read the books back, and
    reconcile their accounts. Refused in audit-only mode: Bulwark never writes to Xero."""
    organisation = _organisation_writable(mismatches, "post the missing entry")
    wrong = [
        m for m in mismatches if m.type != Mismatch.Type.MISSING_IN_XERO or not m.transaction_id
    ]
    if wrong:
        raise ActionRefused("Only “missing in Xero” mismatches can be posted to Xero.")
    since = timezone.now()
    with transaction.atomic():
        for mismatch in mismatches:
            _posting_prepare(organisation, mismatch, user, since)
    _books_round(organisation, mismatches, user, MismatchEvent.Action.POST_FAILED)
    postings = {
        p.transaction_id: p
        for p in Posting.objects.filter(
            organisation=organisation, transaction_id__in=[m.transaction_id for m in mismatches]
        )
    }
    return _outcome(
        mismatches, postings, user, since=since, done=MismatchEvent.Action.POSTED,
        failed=MismatchEvent.Action.POST_FAILED, said="Posted as Xero bank transaction",
    )  # fmt: skip


def mismatches_correct(*, mismatches: Sequence[Mismatch], user: AbstractBaseUser) -> PostOutcome:
    """Update each mismatch's Xero entry from its Wise line: the line Bulwark posted is
    re-posted as it was booked (amount, fee, date: an update of the same bank
    transaction), then the books are read back and reconciled, so a corrected difference
    resolves itself. For open amount and date differences of lines Bulwark posted, in
    "Bulwark posts" mode; an entry someone else made is corrected in Xero, or accepted."""
    organisation = _organisation_writable(mismatches, "update the entry in Xero")
    wrong = [
        m for m in mismatches
        if not m.is_correctable or not m.transaction_id or m.status != Mismatch.Status.OPEN
    ]  # fmt: skip
    if wrong:
        raise ActionRefused(
            "Only open “amount differs” and “date beyond the window” mismatches can be "
            "corrected from the Wise line."
        )
    postings = {
        p.transaction_id: p
        for p in Posting.objects.filter(
            organisation=organisation, transaction_id__in=[m.transaction_id for m in mismatches]
        )
    }
    entries = {e.pk: e for e in LedgerEntry.objects.filter(pk__in=[m.entry_id for m in mismatches])}
    for mismatch in mismatches:
        posting = postings.get(mismatch.transaction_id or 0)
        entry = entries.get(mismatch.entry_id or 0)
        ours = posting is not None and posting.remote_id and (
            entry is None or entry.remote_id == posting.remote_id
        )  # fmt: skip
        if not ours or posting is None or posting.state == Posting.State.PENDING:
            made = f" (reference “{entry.reference}”)" if entry is not None else ""
            raise ActionRefused(
                f"{mismatch.summary}: the Xero entry{made} was not posted by Bulwark, so "
                "Bulwark does not change it. Correct it in Xero, or accept the difference "
                "with a reason."
            )
    since = timezone.now()
    # A posted line is re-posted; one whose earlier update Xero refused is sent again.
    Posting.objects.filter(pk__in=[p.pk for p in postings.values()]).update(
        repost_requested=True, retry_requested=True
    )
    _books_round(organisation, mismatches, user, MismatchEvent.Action.FIX_FAILED)
    return _outcome(
        mismatches, postings, user, since=since, done=MismatchEvent.Action.CORRECTED,
        failed=MismatchEvent.Action.FIX_FAILED, said="Updated Xero bank transaction",
    )  # fmt: skip


def _posting_prepare(
    organisation: Organisation, mismatch: Mismatch, user: AbstractBaseUser, now: datetime
) -> None:
    """Make the push send this line: a refused line is retried; a line whose posting Xero
    holds as deleted or voided is posted afresh (its old record is dropped, the event
    keeps its Xero id); an unposted line needs nothing."""
    posting = Posting.objects.filter(
        organisation=organisation, transaction_id=mismatch.transaction_id
    ).first()
    if posting is None or posting.state == Posting.State.PENDING:
        return
    if posting.state == Posting.State.ERROR:
        Posting.objects.filter(pk=posting.pk).update(retry_requested=True)
        return
    entry = LedgerEntry.objects.filter(
        organisation=organisation, remote_id=posting.remote_id
    ).first()
    if entry is not None and entry.status in DEAD_STATUSES:
        note = (
            f"Xero holds the earlier posting {posting.remote_id} as {entry.status.lower()}: "
            "posting it again"
        )
        _event(
            mismatch,
            MismatchEvent.Action.POSTED,
            now,
            note,
            user,
            previous_xero_id=posting.remote_id,
        ).save()
        posting.delete()
        return
    raise ActionRefused(
        f"{mismatch.summary} is already posted (Xero bank transaction {posting.remote_id}); "
        "read the books back to see it."
    )
