"""Apply N rules to N stored lines: `python manage.py bench rules --n 100000 --rules 50`.

Runs in the throwaway database `manage.py bench` gives every benchmark. Lines
are stored through the real ingest (not timed), rules saved through the real service;
the timed part is one full application of the rules to every line (as "Apply to
existing lines" does: read, decide, write categorizations and decision history in
batches), then a second application that finds nothing to change.
"""

import random
import time
from argparse import ArgumentParser
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench._timing import stopwatch

MERCHANTS = [f"Merchant {n:03d}" for n in range(200)]
SUPPLIERS = [f"Supplier {n:02d} Ltd" for n in range(40)]
CLIENTS = [f"Client {n:02d} GmbH" for n in range(30)]


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=100_000, help="lines to categorize")
    parser.add_argument("--rules", type=int, default=50, help="rules, defaults included")
    parser.add_argument("--seed", type=int, default=7)


def _line(rng: random.Random, number: int, currency: str, start: datetime) -> Any:
    from accounts.lines import StatementLine

    roll = rng.random()
    amount = Decimal(rng.randint(100, 500_000)) / 100
    extra: dict[str, Any] = {}
    if roll < 0.45:
        merchant = rng.choice(MERCHANTS)
        kind, amount = "CARD", -amount
        text = f"Card transaction of {amount} {currency} issued by {merchant}"
        extra["counterparty"] = merchant
    elif roll < 0.65:
        supplier = rng.choice(SUPPLIERS)
        kind, amount, text = "TRANSFER", -amount, f"Sent money to {supplier}"
        extra.update(counterparty=supplier, payment_reference=f"PO-{rng.randint(1, 9999)}")
    elif roll < 0.80:
        client = rng.choice(CLIENTS)
        kind, text = "TRANSFER", f"Received money from {client}"
        extra.update(counterparty=client, payment_reference=f"INV-2025-{rng.randint(1, 999):03d}")
    elif roll < 0.88:
        kind, amount, text = "CONVERSION", -amount, f"Converted {amount} {currency} to USD"
    elif roll < 0.91:
        kind, text = "MONEY_ADDED", "Topped up balance"
    elif roll < 0.93:
        kind, amount, text = "BALANCE_INTEREST", amount / 100, "Interest"
    elif roll < 0.95:
        kind, amount, text = "ACCRUAL_CHARGE", -amount / 100, "Wise charges for: balance"
    elif roll < 0.97:
        kind, amount, text = "CARD_CASHBACK", amount / 100, "Cashback"
    else:
        kind, amount, text = "DIRECT_DEBIT", -amount, f"Direct debit {rng.choice(SUPPLIERS)}"
    return StatementLine(
        booked_at=start + timedelta(minutes=number * 7),
        amount=amount.quantize(Decimal("0.01")),
        currency=currency,
        wise_type=kind,
        description=text,
        reference_number=f"{kind}-{number}",
        **extra,
    )


def _lines_store(n: int, rng: random.Random) -> None:
    from accounts.models import CashAccount, Institution
    from accounts.services import transactions_ingest

    wise = Institution.objects.create(name="Wise", kind=Institution.Kind.WISE)
    accounts = [
        CashAccount.objects.create(institution=wise, name=f"{c} balance", currency=c)
        for c in ("EUR", "USD", "GBP", "CHF")
    ]
    start = datetime(2023, 1, 1, tzinfo=UTC)
    per_account = -(-n // len(accounts))
    for index, account in enumerate(accounts):
        count = min(per_account, n - index * per_account)
        numbers = range(index * per_account, index * per_account + count)
        for first in range(0, count, 10_000):
            chunk = list(numbers[first : first + 10_000])
            lines = [_line(rng, k, account.currency, start) for k in chunk]
            transactions_ingest(account=account, lines=lines, source="API")


def _rules_make(total: int, rng: random.Random) -> None:
    from ledger.rules.models import Action, Condition, Rule
    from ledger.rules.services import rule_save, rules_defaults_restore

    rules_defaults_restore(user=None)
    makers = [
        lambda k: ("ALL", [Condition(field="COUNTERPARTY", operator="EQUALS",
                                     value=MERCHANTS[k % len(MERCHANTS)])]),
        lambda k: ("ALL", [Condition(field="DESCRIPTION", operator="CONTAINS",
                                     value=SUPPLIERS[k % len(SUPPLIERS)].split()[1])]),
        lambda k: ("ALL", [Condition(field="PAYMENT_REFERENCE", operator="REGEX",
                                     value=rf"^INV-2025-0{k % 10}\d$")]),
        lambda k: ("ALL", [Condition(field="DIRECTION", operator="IS_ONE_OF", value="DEBIT"),
                           Condition(field="AMOUNT", operator="BETWEEN",
                                     amount_min=Decimal(4000 + k), amount_max=Decimal(5000))]),
        lambda k: ("ANY", [Condition(field="COUNTERPARTY", operator="STARTS_WITH",
                                     value=CLIENTS[k % len(CLIENTS)]),
                           Condition(field="DESCRIPTION", operator="REGEX",
                                     value=rf"merchant 1{k % 10}\d\b")]),
    ]  # fmt: skip
    for k in range(max(0, total - Rule.objects.count())):
        match, conditions = makers[k % len(makers)](k)
        actions = [Action(kind="ACCOUNT_CODE", value=str(400 + k))]
        if rng.random() < 0.5:
            actions.append(Action(kind="TAX_TYPE", value="INPUT"))
        rule = Rule(name=f"Bench rule {k}", match=match, stop_processing=rng.random() < 0.1)
        rule_save(rule=rule, conditions=conditions, actions=actions, user=None, apply=False)


def run(*, stdout: Any, n: int, rules: int, seed: int, **_: Any) -> dict[str, Any]:
    from accounts.models import Transaction
    from ledger.rules.engine import specs_saved
    from ledger.rules.models import Rule
    from ledger.rules.services import rules_apply

    rng = random.Random(seed)
    Rule.objects.all().delete()
    stdout.write(f"Storing {n} lines through the ingest (not timed)…")
    _lines_store(n, rng)
    _rules_make(rules, rng)
    stdout.write(f"Applying {Rule.objects.count()} rules to {n} lines…")
    cpu = time.process_time()
    with stopwatch() as first:
        result = rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())
    cpu = time.process_time() - cpu
    with stopwatch() as again:
        unchanged = rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())
    return {
        "n": n,
        "rules": rules,
        "seconds": round(first.seconds, 3),
        "lines_per_second": round(result.lines_seen / first.seconds),
        # CPU time of this process: steadier than wall time on a shared machine.
        "cpu_seconds": round(cpu, 3),
        "lines_changed": result.lines_changed,
        "fields_changed": result.fields_changed,
        "reapply_seconds": round(again.seconds, 3),
        "reapply_lines_changed": unchanged.lines_changed,
    }
