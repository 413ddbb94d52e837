"""Reads of the rules pages, each a fixed small number of queries."""

from dataclasses import dataclass

from django.db.models import Count, Min, Prefetch, QuerySet

from accounts.models import SyncRun, Transaction
from ledger.chart import Chart
from ledger.rules.engine import lines_uncategorized_q
from ledger.rules.models import Action, AuditEntry, Categorization, Condition, LineDecision, Rule


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


@dataclass(frozen=True)
class OffChart:
    """Lines booked with something the organisation's chart does not have (any more)."""

    field: str  # account_code or tax_type
    value: str
    lines: int
    first_line: int  # one of them, to open
    known_as: str  # its name when Xero still lists it as deleted or archived
    rules: list[Rule]  # rules that set it


def bookings_off_chart(chart: Chart | None) -> list[OffChart]:
    """Account codes and tax types of stored bookings the chart lacks: posting those lines
    would be refused by Xero, so they need attention (a grouped query per field, and one
    for the rules that set them)."""
    if chart is None:
        return []
    normal = Categorization.objects.filter(treatment=Categorization.Treatment.NORMAL)
    codes = normal.exclude(account_code="").exclude(account_code__in=list(chart.accounts))
    groups = [("account_code", codes)]
    if chart.tax_types:
        groups.append(
            ("tax_type", normal.exclude(tax_type="").exclude(tax_type__in=list(chart.tax_types)))
        )
    counted = [
        (name, row[name], row["lines"], row["first"])
        for name, rows in groups
        for row in rows.values(name).annotate(lines=Count("id"), first=Min("transaction_id"))
        .order_by(name)
    ]  # fmt: skip
    if not counted:
        return []
    kinds = {"account_code": Action.Kind.ACCOUNT_CODE, "tax_type": Action.Kind.TAX_TYPE}
    setters: dict[tuple[str, str], list[Rule]] = {}
    for action in Action.objects.filter(
        kind__in=list(kinds.values()), value__in={value for _, value, _, _ in counted}
    ).select_related("rule"):
        setters.setdefault((action.kind, action.value), []).append(action.rule)
    return [
        OffChart(
            field=name, value=value, lines=lines, first_line=first,
            known_as=chart.gone.get(value, "") if name == "account_code" else "",
            rules=setters.get((kinds[name], value), []),
        )
        for name, value, lines, first in counted
    ]  # fmt: skip


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
