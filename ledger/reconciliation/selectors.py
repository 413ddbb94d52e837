"""Reads of reconciliation: what the dashboard, the accounts and the queue page show."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, F, Max, Min, OuterRef, Q, QuerySet, Subquery

from accounts.models import CashAccount, SyncRun
from ledger.reconciliation.models import BalanceCheck, Mismatch

LINE_TYPES = [t for t in Mismatch.Type.values if t != Mismatch.Type.BALANCE_DIFFERS]


def mismatches_open_by_type() -> dict[str, int]:
    """Open mismatches per type (every type present, zero when none): one query."""
    counts = dict.fromkeys(Mismatch.Type.values, 0)
    rows = (
        Mismatch.objects.filter(status=Mismatch.Status.OPEN)
        .order_by()
        .values_list("type")
        .annotate(n=Count("id"))
    )
    counts.update(dict(rows))
    return counts


def mismatches_open_count() -> int:
    return Mismatch.objects.filter(status=Mismatch.Status.OPEN).count()


def _proved(checks: QuerySet[BalanceCheck]) -> QuerySet[BalanceCheck]:
    """Days whose balance agrees (or whose difference the owner ignored), before the
    account's first open line-level mismatch."""
    first_open = (
        Mismatch.objects.filter(
            account=OuterRef("account"), status=Mismatch.Status.OPEN, type__in=LINE_TYPES
        )
        .order_by()
        .values("account")
        .annotate(first=Min("day"))
        .values("first")
    )
    agreed = Q(books_minor=F("wise_minor")) | Q(mismatch__status=Mismatch.Status.IGNORED)
    return (
        checks.filter(agreed)
        .annotate(blocked_from=Subquery(first_open))
        .filter(Q(blocked_from__isnull=True) | Q(day__lt=F("blocked_from")))
    )


def proved_through(account: CashAccount) -> date | None:
    """The last day whose balance and lines all match for the account ("proved to"),
    or None when no day is proved yet."""
    return _proved(BalanceCheck.objects.filter(account=account)).aggregate(day=Max("day"))["day"]


def proved_through_all() -> dict[int, date | None]:
    """`proved_through` of every cash account, in one query (accounts never compared
    with Xero are absent: not proved)."""
    rows = (
        _proved(BalanceCheck.objects.all())
        .order_by()
        .values_list("account_id")
        .annotate(day=Max("day"))
    )
    return dict(rows)


def reconcile_run_last() -> SyncRun | None:
    return SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).order_by("-started_at").first()


def queue_overview(*, runs: int = 5) -> dict[str, object]:
    """Everything the summary page shows, in a fixed number of queries."""
    counts = mismatches_open_by_type()
    proved = proved_through_all()
    accounts = list(
        CashAccount.objects.filter(books_mappings__isnull=False)
        .distinct()
        .annotate(open=Count("mismatches", filter=Q(mismatches__status=Mismatch.Status.OPEN)))
        .order_by("currency", "name")
    )
    for account in accounts:
        account.proved_through = proved.get(account.pk)  # type: ignore[attr-defined]
    types = [
        {"type": value, "label": label, "count": counts[value]}
        for value, label in Mismatch.Type.choices
    ]
    return {
        "types": types,
        "open_total": sum(counts.values()),
        "accounts": accounts,
        "runs": list(
            SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).order_by("-started_at")[:runs]
        ),
    }
