"""Reads of the books side: what is left to post, and what the Books page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, F, Q, QuerySet

from accounts.models import SyncRun, Transaction
from ledger.models import (
    BankAccountMapping,
    BankBalance,
    BooksConnection,
    LedgerEntry,
    Organisation,
    Posting,
)
from ledger.rules.models import Categorization

EXCLUDE = "EXCLUDE"


def _has_revision() -> bool:
    """The rules app adds `Categorization.revision`; until it does, nothing is stale."""
    try:
        Categorization._meta.get_field("revision")
    except FieldDoesNotExist:
        return False
    return True


def postings_stale(organisation: Organisation) -> QuerySet[Posting]:
    """Posted lines whose categorization changed since they were posted."""
    posted = Posting.objects.filter(
        organisation=organisation, state=Posting.State.POSTED, repost_requested=False
    )
    if not _has_revision():
        return posted.none()
    return posted.filter(transaction__categorization__revision__gt=F("posted_revision"))


def lines_unposted(organisation: Organisation) -> QuerySet[Transaction]:
    """Stored lines of mapped accounts that have no posting record yet, oldest first."""
    mapped = BankAccountMapping.objects.filter(organisation=organisation).values("cash_account")
    lines = (
        Transaction.objects.filter(account__in=mapped)
        .exclude(postings__organisation=organisation)
        .exclude(categorization__treatment=EXCLUDE)
        .exclude(amount_minor=0)
    )
    if organisation.post_from:
        lines = lines.filter(booked_on__gte=organisation.post_from)
    return lines.order_by("booked_at", "id")


def postings_to_resend(organisation: Organisation) -> QuerySet[Posting]:
    """Records to send again: refused ones the owner asked to retry (or whose
    categorization changed since), and posted ones the owner asked to re-post."""
    retry = Q(state=Posting.State.ERROR, retry_requested=True)
    repost = Q(state=Posting.State.POSTED, repost_requested=True)
    return Posting.objects.filter(Q(organisation=organisation) & (retry | repost))


@dataclass
class PostingStatus:
    counts: dict[str, int] = field(default_factory=dict)
    unposted: int = 0
    stale: int = 0
    refused: list[Posting] = field(default_factory=list)


def posting_status(organisation: Organisation, *, refused_limit: int = 25) -> PostingStatus:
    rows = Posting.objects.filter(organisation=organisation).values("state").annotate(n=Count("id"))
    counts = dict.fromkeys(Posting.State.values, 0)
    counts.update({row["state"]: row["n"] for row in rows})
    refused = list(
        Posting.objects.filter(organisation=organisation, state=Posting.State.ERROR)
        .select_related("transaction__account")
        .order_by("-sent_at")[:refused_limit]
    )
    return PostingStatus(
        counts=counts,
        unposted=lines_unposted(organisation).count(),
        stale=postings_stale(organisation).count(),
        refused=refused,
    )


def connection_current() -> BooksConnection | None:
    """The connection to the books not yet disconnected (one per install), with its
    organisation."""
    return (
        BooksConnection.objects.exclude(status=BooksConnection.Status.DISCONNECTED)
        .select_related("organisation")
        .first()
    )


def xero_overview() -> dict[str, Any]:
    """Everything the connection card needs: the live connection and its organisation."""
    connection = connection_current()
    organisation = connection.organisation if connection else None
    return {"connection": connection, "organisation": organisation}


def runs_last(organisation: Organisation) -> dict[str, SyncRun | None]:
    runs = SyncRun.objects.filter(label=organisation.name)
    return {
        "push": runs.filter(kind=SyncRun.Kind.XERO_PUSH).first(),
        "pull": runs.filter(kind=SyncRun.Kind.XERO_PULL).first(),
    }


def balances_compared(organisation: Organisation) -> list[dict[str, Any]]:
    """Per mapped account: Xero's latest Bank Summary balance beside Bulwark's own."""
    from accounts.selectors import balance_minor_on
    from treasury.money import from_minor

    mappings = BankAccountMapping.objects.filter(organisation=organisation).select_related(
        "cash_account", "chart_account"
    )
    latest = {}
    for balance in BankBalance.objects.filter(organisation=organisation).order_by("as_of"):
        latest[balance.chart_account_id] = balance
    rows = []
    for item in mappings:
        balance = latest.get(item.chart_account_id)
        currency = item.cash_account.currency
        ours = (
            from_minor(balance_minor_on(item.cash_account, balance.as_of), currency)
            if balance
            else None
        )
        theirs = from_minor(balance.closing_minor, currency) if balance else None
        rows.append(
            {
                "mapping": item,
                "balance": balance,
                "xero": theirs,
                "bulwark": ours,
                "difference": (ours - theirs) if balance and ours is not None else None,
            }
        )
    return rows


def entries_recent(organisation: Organisation, limit: int = 20) -> list[LedgerEntry]:
    return list(
        LedgerEntry.objects.filter(organisation=organisation)
        .select_related("chart_account")
        .order_by("-updated_at_utc")[:limit]
    )


def entries_not_ours(organisation: Organisation) -> int:
    """Bank transactions on the mapped accounts that Bulwark did not post: in "Bulwark
    posts" mode these hint that Wise's own feed records transactions too (double posting)."""
    entries = LedgerEntry.objects.filter(
        organisation=organisation,
        kind=LedgerEntry.Kind.BANK_TRANSACTION,
        posting_key="",
        status="AUTHORISED",
    )
    if organisation.post_from:
        entries = entries.filter(date__gte=organisation.post_from)
    return entries.count()
