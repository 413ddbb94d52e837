"""The owner's actions on the mismatch queue: ignore, accept, reopen, link by hand,
undo a match, and post or correct through the books (in "Bulwark posts" mode), each
recorded in `MismatchEvent` and followed by a run over the affected accounts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import SyncRun, Transaction
from ledger.models import (
    LedgerEntry,
    Organisation,
    Posting,
)
from ledger.reconciliation import matcher
from ledger.reconciliation.conf import tolerances
from ledger.reconciliation.models import (
    Match,
    MatchItem,
    Mismatch,
    MismatchEvent,
)
from ledger.reconciliation.services.loading import DEAD_STATUSES, Scope, scope_of
from ledger.reconciliation.services.runs import reconcile
from ledger.reconciliation.services.storing import mismatch_event

LINKABLE = (
    Mismatch.Type.MISSING_IN_XERO,
    Mismatch.Type.MISSING_IN_WISE,
    Mismatch.Type.DUPLICATE_IN_XERO,
)


class ActionRefused(ValueError):
    """The owner's action cannot be done; the message says why, fit to show."""


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
        mismatch_event(mismatch, action, now, note, user, accepted_side=side.value).save()


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
        mismatch_event(mismatch, MismatchEvent.Action.REOPENED, now, note, user).save()
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
        mismatch_event(mismatch, MismatchEvent.Action.UNLINKED, now, reason, user).save()


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
        note = f"Linked as {match.signature}"
        mismatch_event(mismatch, MismatchEvent.Action.LINKED, now, note, user,
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
        raise ActionRefused("Act on the mismatches of one organisation of the books at a time.")
    organisation = mismatches[0].organisation
    if not organisation.posts:
        books = organisation.get_provider_display()
        raise ActionRefused(
            f"Audit only: Bulwark never writes to {books} in this mode, so it cannot "
            f"{doing.format(books=books)}. Correct it in {books} (or let Wise's own feed do "
            "it), or choose “Bulwark posts” on the Books page first."
        )
    return organisation


def _books_round(
    organisation: Organisation, mismatches: Sequence[Mismatch], user: AbstractBaseUser,
    failed: str,
) -> None:  # fmt: skip
    """Push, read the books back, and reconcile the mismatches' accounts. A push that did
    not run is recorded on each mismatch (`failed`) and refused."""
    from ledger import services as books

    push = books.books_push(organisation_id=organisation.pk)
    if push.status != SyncRun.Status.SUCCEEDED:
        reason = push.detail.get("reason") or push.error or push.get_status_display()
        now = timezone.now()
        MismatchEvent.objects.bulk_create(
            [mismatch_event(m, failed, now, reason, user) for m in mismatches]
        )
        raise ActionRefused(
            f"Posting to {organisation.get_provider_display()} did not run: {reason}"
        )
    books.books_pull(organisation_id=organisation.pk)
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
            events.append(mismatch_event(mismatch, done, now, f"{said} {posting.remote_id}", user,
                                 remote_id=posting.remote_id))  # fmt: skip
            continue
        errors = "; ".join(posting.errors) if posting is not None and posting.errors else ""
        outcome.failed.append(f"{mismatch.summary}: {errors or 'not sent'}")
        events.append(mismatch_event(mismatch, failed, now, errors or "not sent", user))
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
    books = organisation.get_provider_display()
    return _outcome(
        mismatches, postings, user, since=since, done=MismatchEvent.Action.POSTED,
        failed=MismatchEvent.Action.POST_FAILED, said=f"Posted as {books} bank transaction",
    )  # fmt: skip


def mismatches_correct(*, mismatches: Sequence[Mismatch], user: AbstractBaseUser) -> PostOutcome:
    """Update each mismatch's Xero entry from its Wise line: the line Bulwark posted is
    re-posted as it was booked (amount, fee, date: an update of the same bank
    transaction), then the books are read back and reconciled, so a corrected difference
    resolves itself. For open amount and date differences of lines Bulwark posted, in
    "Bulwark posts" mode; an entry someone else made is corrected in Xero, or accepted."""
    organisation = _organisation_writable(mismatches, "update the entry in {books}")
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
            books = organisation.get_provider_display()
            raise ActionRefused(
                f"{mismatch.summary}: the {books} entry{made} was not posted by Bulwark, so "
                f"Bulwark does not change it. Correct it in {books}, or accept the difference "
                "with a reason."
            )
    since = timezone.now()
    # A posted line is re-posted; one whose earlier update Xero refused is sent again.
    Posting.objects.filter(pk__in=[p.pk for p in postings.values()]).update(
        repost_requested=True, retry_requested=True
    )
    _books_round(organisation, mismatches, user, MismatchEvent.Action.FIX_FAILED)
    books = organisation.get_provider_display()
    return _outcome(
        mismatches, postings, user, since=since, done=MismatchEvent.Action.CORRECTED,
        failed=MismatchEvent.Action.FIX_FAILED, said=f"Updated {books} bank transaction",
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
            f"{organisation.get_provider_display()} holds the earlier posting "
            f"{posting.remote_id} as {entry.status.lower()}: "
            "posting it again"
        )
        mismatch_event(
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
        f"{mismatch.summary} is already posted ({organisation.get_provider_display()} "
        f"bank transaction {posting.remote_id}); "
        "read the books back to see it."
    )
