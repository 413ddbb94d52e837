"""Test data for the rules: lines stored through the real ingest, rules saved through
the real service."""

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from accounts.lines import StatementLine
from accounts.models import CashAccount, Transaction
from accounts.services import transactions_ingest
from accounts.tests.factories import START
from ledger.rules.models import Action, Condition, Rule
from ledger.rules.services import rule_save

_refs = itertools.count(1)


def lines_store(account: CashAccount, *specs: dict[str, Any]) -> list[Transaction]:
    """Store one line per spec (`amount` as a string, plus any StatementLine field)."""
    lines = []
    for spec in specs:
        spec = dict(spec)
        number = next(_refs)
        amount = Decimal(spec.pop("amount"))
        lines.append(
            StatementLine(
                booked_at=spec.pop("booked_at", START + timedelta(minutes=number)),
                amount=amount,
                currency=account.currency,
                reference_number=spec.pop("reference_number", f"TEST-{number}"),
                **spec,
            )
        )
    transactions_ingest(account=account, lines=lines, source="API")
    keys = [line.reference_number for line in lines]
    found = {t.reference_number: t for t in Transaction.objects.filter(reference_number__in=keys)}
    return [found[key] for key in keys]


def rule_make(
    name: str,
    *,
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    match: str = "ALL",
    stop: bool = False,
    active: bool = True,
    user=None,
    apply: bool = False,
) -> Rule:
    """A rule saved through `rule_save`, after the existing ones; validated like a form."""
    rule = Rule(name=name, match=match, stop_processing=stop, is_active=active)
    conds = [Condition(rule=rule, **c) for c in conditions]
    acts = [Action(rule=rule, **a) for a in actions]
    for item in (*conds, *acts):
        item.full_clean(exclude=["rule"])
    rule, _ = rule_save(rule=rule, conditions=conds, actions=acts, user=user, apply=apply)
    return rule


def cond(field: str, value: str = "", operator: str | None = None, **extra: Any) -> dict[str, Any]:
    default = "IS_ONE_OF" if field in {"CURRENCY", "DIRECTION", "WISE_TYPE"} else "CONTAINS"
    if field == "AMOUNT":
        default = "BETWEEN"
    return {"field": field, "operator": operator or default, "value": value, **extra}


def act(kind: str, value: str, option: str = "") -> dict[str, Any]:
    return {"kind": kind, "value": value, "option": option}
