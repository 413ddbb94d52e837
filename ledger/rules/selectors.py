"""Reads of the rules pages, each a fixed small number of queries."""

from django.db.models import Count, Prefetch, QuerySet

from accounts.models import SyncRun, Transaction
from ledger.rules.engine import lines_uncategorized_q
from ledger.rules.models import AuditEntry, Condition, LineDecision, Rule


def rules_for_list() -> QuerySet[Rule]:
    """Every rule in order with its conditions (and their accounts) and actions."""
    return Rule.objects.order_by("position", "id").prefetch_related(
        Prefetch("conditions", queryset=Condition.objects.select_related("cash_account")),
        "actions",
    )


def rule_run_latest() -> SyncRun | None:
    return (
        SyncRun.objects.filter(kind=SyncRun.Kind.RULES)
        .select_related("rule_run")
        .order_by("-started_at", "-id")
        .first()
    )


def lines_uncategorized() -> QuerySet[Transaction]:
    return (
        Transaction.objects.filter(lines_uncategorized_q())
        .select_related("account", "categorization")
        .order_by("-booked_at", "-seq")
    )


def uncategorized_counterparties(*, limit: int = 8) -> list[dict]:
    """The counterparties with the most uncategorized lines: the rules worth writing."""
    return list(
        Transaction.objects.filter(lines_uncategorized_q())
        .exclude(counterparty="")
        .values("counterparty")
        .annotate(lines=Count("id"))
        .order_by("-lines", "counterparty")[:limit]
    )


def line_with_booking(*, line_id: int) -> Transaction | None:
    return (
        Transaction.objects.select_related("account", "categorization").filter(pk=line_id).first()
    )


def line_decisions(*, line_id: int) -> QuerySet[LineDecision]:
    return LineDecision.objects.filter(transaction_id=line_id).select_related(
        "user", "run", "run__sync_run"
    )


def audit_entries() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("user").order_by("-at", "-id")
