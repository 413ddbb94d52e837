"""Storing a run's result against what the previous run stored: matches kept, made
or undone, the balance checks of each day the books' balance was read, and the
mismatch queue following the differences (see the package docstring)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import OuterRef, Subquery, Sum

from accounts.balances import balance_window
from accounts.models import CashAccount, Transaction
from ledger.models import (
    BankBalance,
    ChartAccount,
    Organisation,
)
from ledger.reconciliation import matcher
from ledger.reconciliation.models import (
    BalanceCheck,
    Match,
    MatchItem,
    Mismatch,
    MismatchEvent,
)
from ledger.reconciliation.services.loading import Scope
from ledger.rules.bulk import rows_insert

if TYPE_CHECKING:
    from ledger.reconciliation.services.runs import RunResult

CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def matches_active(
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


def matches_store(
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
    links_broken([pk for pk in undo if active_methods.get(pk) == Match.Method.MANUAL], now)
    for chunk in chunks(undo):
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


def links_broken(match_ids: list[int], now: datetime) -> None:
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
            mismatch_event(
                mismatch, MismatchEvent.Action.UNLINKED, now, "A linked line or entry is gone"
            )
        )
    MismatchEvent.objects.bulk_create(events)


def _matches_create(
    organisation: Organisation,
    proposals: list[matcher.Proposal],
    lines: dict[int, matcher.Line],
    entries: dict[int, matcher.Entry],
    now: datetime,
) -> dict[str, int]:
    """Insert matches and their members with bulk inserts (COPY on PostgreSQL): the
    ORM's per-object cost dominates a first run of 100,000 matches. Ids are read back
    by signature."""
    if not proposals:
        return {}
    adapt_day = connection.ops.adapt_datefield_value
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
                proposal.factors,
                _fingerprint(proposal),
                lines[proposal.lines[0]].account_id,
                adapt_day(date.fromordinal(day)),
                now,
                "",
            )
        )
    columns = ("organisation_id", "method", "signature", "score", "factors", "fingerprint",
               "account_id", "day", "created_at", "undone_reason")  # fmt: skip
    rows_insert(Match, columns, rows)
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
    rows_insert(MatchItem, ("match_id", "transaction_id", "entry_id"), items)
    return ids


# --- balances ----------------------------------------------------------------------------


@dataclass
class _Check:
    chart_account: ChartAccount
    account_ids: list[int]
    balance: matcher.DayBalance
    currency: str
    read_at: datetime
    key: str = ""


def balance_differences(
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


def balance_checks_store(
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


def mismatch_event(
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


def mismatches_store(
    organisation: Organisation,
    scope: Scope,
    differences: list[matcher.Difference],
    match_ids: dict[str, int],
    now: datetime,
    result: RunResult,
) -> dict[str, int]:
    """Bring the queue in step with the differences found (see the module docstring)."""
    wanted = {d.key: d for d in differences}
    current = (
        Mismatch.objects.filter(organisation=organisation)
        .exclude(status=Mismatch.Status.RESOLVED, resolution=Mismatch.Resolution.RECONCILED)
        .exclude(type__in=Mismatch.FILED_TYPES)
    )
    if not scope.full:
        current = current.filter(account_id__in=list(scope.accounts))
    stored = {m.natural_key: m for m in current}
    for chunk in chunks([key for key in wanted if key not in stored]):
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
            events.append(mismatch_event(mismatch, MismatchEvent.Action.CHANGED, now, note))
            result.changed += 1
        elif gone_before or differs:
            note = (
                "The difference is back"
                if gone_before
                else f"The difference changed: was {before or '—'}, now {difference.fingerprint}"
            )
            events.append(mismatch_event(mismatch, MismatchEvent.Action.REOPENED, now, note))
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
        events.append(mismatch_event(mismatch, MismatchEvent.Action.RESOLVED, now,
                             "Resolved by reconciliation: the difference is gone"))  # fmt: skip
        updates.append(mismatch)
        result.resolved += 1
    Mismatch.objects.bulk_create(creates, batch_size=CHUNK)
    events.extend(mismatch_event(m, MismatchEvent.Action.OPENED, now, m.summary) for m in creates)
    result.opened += len(creates)
    Mismatch.objects.bulk_update(updates, MISMATCH_FIELDS, batch_size=CHUNK)
    for chunk in chunks(seen):
        Mismatch.objects.filter(pk__in=chunk).update(last_seen_at=now)
    MismatchEvent.objects.bulk_create(events, batch_size=CHUNK)
    return {key: stored[key].pk if key in stored else 0 for key in wanted} | {
        m.natural_key: m.pk for m in creates
    }
