"""Reconcile N Wise lines against about N Xero entries: `manage.py bench reconcile --n 100000`.

Runs in throwaway databases (created and destroyed here, never the live one). The Wise
lines are stored through the real ingest; the Xero side is written as `LedgerEntry` rows
directly (what the read-back stores), not over HTTP: posting 100,000 lines to the
simulator would take Xero's rate limits, hours, and measure the push instead. Entries
are the shapes reconciliation meets: Bulwark's own postings (its key in the Reference),
Wise's own feed (the Wise reference, fees as separate entries), and bare entries dated
up to a day off. `--differences` (5%) of the lines carry a seeded difference: missing
in Xero, a duplicate from Wise's feed, an amount off by the fee, a date three days off,
an entry Wise never had, a payment split in two.

Timed: one full reconciliation (load, match, store matches, mismatches, balance checks)
and a rerun that changes nothing. The same is done first for N/10, and `growth` is
t(N) / t(N/10), to compare with `nlogn_bound` = 10·log(N)/log(N/10): growing no faster
than n log n keeps growth under it.
"""

from __future__ import annotations

import math
import random
import time
from argparse import ArgumentParser
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench._scratch import scratch_database
from bench._timing import stopwatch

CURRENCIES = ("EUR", "USD", "GBP", "CHF")
MERCHANTS = [f"Merchant {n:03d}" for n in range(300)]
START = datetime(2024, 1, 1, tzinfo=UTC)
KINDS = ("missing", "duplicate", "fee", "date", "stranger", "split")


# Two scratch databases (n/10, then n); it makes and drops them itself.
SCRATCH = False


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=100_000, help="Wise lines")
    parser.add_argument("--differences", type=float, default=0.05, help="share seeded")
    parser.add_argument("--seed", type=int, default=7)


def _lines_store(n: int, rng: random.Random) -> list[Any]:
    from accounts.lines import StatementLine
    from accounts.models import CashAccount, Institution
    from accounts.services import transactions_ingest

    wise = Institution.objects.create(name="Wise", kind=Institution.Kind.WISE)
    accounts = [
        CashAccount.objects.create(institution=wise, name=f"{c} balance", currency=c)
        for c in CURRENCIES
    ]
    per_account = -(-n // len(accounts))
    minutes = max(1, 365 * 24 * 60 // per_account)
    for index, account in enumerate(accounts):
        count = min(per_account, n - index * per_account)
        for first in range(0, count, 10_000):
            lines = []
            for k in range(first, min(first + 10_000, count)):
                number = index * per_account + k
                amount = Decimal(rng.randint(100, 500_000)) / 100
                fee = Decimal(rng.choice((0, 0, 0, 35, 250, 437))) / 100
                income = rng.random() < 0.25
                lines.append(
                    StatementLine(
                        booked_at=START + timedelta(minutes=k * minutes + rng.randrange(minutes)),
                        amount=amount - fee if income else -(amount + fee),
                        fee=fee,
                        currency=account.currency,
                        wise_type="DEPOSIT" if income else "CARD",
                        counterparty=rng.choice(MERCHANTS),
                        description="bench",
                        reference_number=f"{'TRANSFER' if income else 'CARD'}-{number}",
                    )
                )
            transactions_ingest(account=account, lines=lines, source="API")
    return accounts


def _books_make(accounts: list[Any]) -> Any:
    from django.utils import timezone

    from ledger.models import BankAccountMapping, ChartAccount, Organisation

    organisation = Organisation.objects.create(
        tenant_id="bench", name="Bench books", base_currency="USD", mode="POSTS",
        last_pull_at=timezone.now(),
    )  # fmt: skip
    for index, account in enumerate(accounts):
        chart_account = ChartAccount.objects.create(
            organisation=organisation, account_id=f"bank-{index}", code=f"09{index}",
            name=f"Wise {account.currency}", type="BANK", currency=account.currency,
        )  # fmt: skip
        BankAccountMapping.objects.create(
            organisation=organisation, cash_account=account, chart_account=chart_account
        )
    return organisation


def _entries_make(organisation: Any, share: float, rng: random.Random) -> dict[str, int]:
    """Xero's side for every stored line, `share` of them with a seeded difference."""
    from accounts.models import Transaction
    from ledger.models import BankAccountMapping, LedgerEntry

    book = {
        m.cash_account_id: m.chart_account
        for m in BankAccountMapping.objects.filter(organisation=organisation).select_related(
            "chart_account"
        )
    }
    rows = Transaction.objects.order_by("id").values_list(
        "id", "account_id", "booked_on", "amount_minor", "fee_minor", "currency",
        "reference_number", "counterparty",
    )  # fmt: skip
    entries: list[LedgerEntry] = []
    seeded = dict.fromkeys(KINDS, 0)
    delta: dict[int, int] = dict.fromkeys(book, 0)
    stamp = datetime(2024, 1, 1, tzinfo=UTC)

    def entry(account_id: int, day: Any, amount: int, currency: str, **extra: Any) -> None:
        chart_account = book[account_id]
        entries.append(
            LedgerEntry(
                organisation=organisation, kind="BANK_TRANSACTION", remote_id=f"x{len(entries)}",
                remote_type="RECEIVE" if amount > 0 else "SPEND", chart_account=chart_account,
                bank_account_id=chart_account.account_id, date=day, amount_minor=amount,
                currency=currency, status="AUTHORISED", updated_at_utc=stamp, **extra,
            )
        )  # fmt: skip
        delta[account_id] += amount

    for pk, account_id, day, amount, fee, currency, reference, counterparty in rows:
        delta[account_id] -= amount
        if rng.random() < share:
            kind = KINDS[sum(seeded.values()) % len(KINDS)]
            seeded[kind] += 1
            key = f"bulwark:t{pk}"
            if kind == "missing":
                continue
            if kind == "duplicate":
                entry(account_id, day, amount, currency, reference=key, posting_key=key)
                entry(account_id, day, amount, currency, reference=f"wise:{reference}")
            elif kind == "fee":
                entry(
                    account_id, day, amount + (fee or 100), currency, reference=key, posting_key=key
                )
            elif kind == "date":
                entry(
                    account_id,
                    day + timedelta(days=3),
                    amount,
                    currency,
                    reference=key,
                    posting_key=key,
                )
            elif kind == "stranger":
                entry(account_id, day, amount, currency, reference=key, posting_key=key)
                entry(account_id, day, rng.randint(-90_000, -1), currency, reference="Adjustment")
            else:  # split in two bare payments
                part = amount // 3
                entry(account_id, day, part, currency, contact_name=counterparty)
                entry(account_id, day, amount - part, currency, contact_name=counterparty)
            continue
        roll = rng.random()
        if roll < 0.70:
            key = f"bulwark:t{pk}"
            entry(account_id, day, amount, currency, reference=key, posting_key=key)
        elif roll < 0.85:
            if fee and rng.random() < 0.5:  # Wise's feed: the fee as its own SPEND
                entry(account_id, day, amount + fee, currency, reference=f"wise:{reference}")
                entry(account_id, day, -fee, currency, reference="Wise fee")
            else:
                entry(account_id, day, amount, currency, reference=f"wise:{reference}")
        else:
            shifted = day + timedelta(days=rng.choice((0, 0, 1)))
            entry(account_id, shifted, amount, currency, contact_name=counterparty)
    LedgerEntry.objects.bulk_create(entries, batch_size=5000)
    _balances_make(organisation, book, delta)
    seeded["entries"] = len(entries)
    return seeded


def _balances_make(organisation: Any, book: dict[int, Any], delta: dict[int, int]) -> None:
    """Xero's balance today: Wise's plus what the seeded differences add up to."""
    from django.utils import timezone

    from accounts.models import DailyBalance
    from ledger.models import BankBalance

    for account_id, chart_account in book.items():
        closing = (
            DailyBalance.objects.filter(account_id=account_id)
            .order_by("-date")
            .values_list("closing_minor", flat=True)
            .first()
        ) or 0
        BankBalance.objects.create(
            organisation=organisation, chart_account=chart_account, as_of=timezone.localdate(),
            currency=chart_account.currency, opening_minor=0, received_minor=0, spent_minor=0,
            closing_minor=closing + delta[account_id],
        )  # fmt: skip


def _one(n: int, share: float, seed: int, stdout: Any) -> dict[str, Any]:
    with scratch_database("reconcile"):
        from django.conf import settings

        from ledger.reconciliation.models import MatchItem
        from ledger.reconciliation.services import reconcile

        settings.RECONCILE_GRACE_HOURS = 0
        rng = random.Random(seed)
        stdout.write(f"Storing {n} Wise lines through the ingest (not timed)…")
        accounts = _lines_store(n, rng)
        organisation = _books_make(accounts)
        seeded = _entries_make(organisation, share, rng)
        stdout.write(f"Reconciling {n} lines against {seeded['entries']} entries…")
        cpu = time.process_time()
        with stopwatch() as first:
            run = reconcile(organisation_id=organisation.pk)
        cpu = time.process_time() - cpu
        assert run.status == "SUCCEEDED", run.error
        with stopwatch() as again:
            rerun = reconcile(organisation_id=organisation.pk)
        matched = MatchItem.objects.filter(transaction__isnull=False).count()
    return {
        "seconds": round(first.seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "entries": seeded.pop("entries"),
        "matched": matched,
        "mismatches": sum(run.detail["mismatches"].values()),
        "by_method": run.detail["matches"],
        "by_type": run.detail["mismatches"],
        "seeded": seeded,
        "timings": run.detail.get("timings", {}),
        "rerun_seconds": round(again.seconds, 3),
        "rerun_opened": rerun.detail.get("opened"),
        "rerun_resolved": rerun.detail.get("resolved"),
    }


def run(*, stdout: Any, n: int, differences: float, seed: int, **_: Any) -> dict[str, Any]:
    small = _one(max(n // 10, 10), differences, seed, stdout)
    stdout.write(f"n/10: {small['seconds']} s")
    big = _one(n, differences, seed, stdout)
    growth = big["seconds"] / small["seconds"] if small["seconds"] else None
    return {
        "n": n,
        **big,
        "seconds_n_10": small["seconds"],
        "growth": round(growth, 2) if growth else None,
        "nlogn_bound": round(10 * math.log(n) / math.log(max(n // 10, 2)), 2),
    }
