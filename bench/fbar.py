"""A full FBAR year: `python manage.py bench fbar --accounts 20 --n 50000`.

Runs in the throwaway database `manage.py bench` gives every benchmark. Setup, not
timed: N accounts in several currencies, each with `--n` lines spread over 2025, written
by a raw bulk insert (the ingest's checks and hash chain are not what is measured, so the
chain digests are placeholders), then `accounts.services.daily_balances_refresh` per
account, as an ingest leaves them; plus the Treasury's Dec 31 rates. `--daily-only` skips
the lines and writes the same kind of daily rows directly.

Timed: `fbar_year(2025)` (every account's maximum, rates, the aggregate and the day it
crossed), then a monitor run (2025 and 2026, stored, alerts claimed). The figures include
the queries run and whether any touched the lines table (it must not).
"""

import random
from argparse import ArgumentParser
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bench._timing import stopwatch

CURRENCIES = ["EUR", "GBP", "JPY", "CHF", "USD", "CAD", "AUD", "SEK", "NOK", "DKK"]
# Foreign units per 1 USD, as the Treasury published them for 2025-12-31 (rounded).
TREASURY_DEC31 = {
    "EUR": "0.852", "GBP": "0.743", "JPY": "156.2", "CHF": "0.795", "CAD": "1.37",
    "AUD": "1.5", "SEK": "9.2", "NOK": "10.1", "DKK": "6.36",
}  # fmt: skip
YEAR = 2025
TODAY = date(2026, 2, 3)


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=20, help="foreign accounts")
    parser.add_argument("--n", type=int, default=50_000, help="lines per account")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--daily-only", action="store_true", help="write daily balances directly, no lines"
    )


def _accounts(count: int) -> list[Any]:
    from accounts.models import CashAccount, Institution
    from treasury.fbar.models import FbarAccount
    from treasury.fx.models import Rate, Source

    wise = Institution.objects.create(
        name="Wise Europe SA", kind=Institution.Kind.WISE, country="BE",
        address="Rue du Trône 100, 1050 Brussels, Belgium",
    )  # fmt: skip
    accounts = []
    for n in range(count):
        currency = CURRENCIES[n % len(CURRENCIES)]
        account = CashAccount.objects.create(
            institution=wise, name=f"{currency} balance {n}", currency=currency,
            wise_balance_id=9000 + n, is_foreign_for_fbar=True,
        )  # fmt: skip
        FbarAccount.objects.create(account=account)
        accounts.append(account)
    for code, value in TREASURY_DEC31.items():
        Rate.objects.create(
            source=Source.TREASURY, base="USD", quote=code, rate=Decimal(value),
            date=date(YEAR, 11, 30), record_date=date(YEAR, 12, 31), source_key=code,
        )  # fmt: skip
    return accounts


def _amounts(rng: random.Random, n: int) -> list[tuple[datetime, int]]:
    """n movements over the year, in minor units, drifting up and down."""
    start = datetime(YEAR, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / n
    return [(start + step * k, rng.randint(-50_000, 52_000)) for k in range(n)]


def _lines_insert(account: Any, moves: list[tuple[datetime, int]]) -> None:
    """Raw bulk insert: every column prepared once, except those that vary per line."""
    from accounts.models import Transaction

    fields = [f for f in Transaction._meta.concrete_fields if not f.primary_key]
    constant = {
        "account_id": account.pk, "currency": account.currency, "fee_minor": 0,
        "running_balance_minor": None, "wise_type": "TRANSFER", "description": "Bench line",
        "counterparty": "", "reference_number": "", "payment_reference": "",
        "counter_currency": "", "counter_amount_minor": None, "fx_rate": None, "source": "API",
        "raw": {}, "prev_digest": "", "digest": "0" * 64,
        "created_at": datetime.now(tz=UTC),
    }  # fmt: skip
    prepared = {
        f.attname: f.get_db_prep_save(constant[f.attname], connection)
        for f in fields
        if f.attname in constant
    }
    ops = connection.ops
    rows = []
    for seq, (at, minor) in enumerate(moves, 1):
        varying = {
            "seq": seq,
            "natural_key": f"B{account.pk}-{seq}|{at:%Y%m%d}|{minor}",
            "booked_at": ops.adapt_datetimefield_value(at),
            "booked_on": ops.adapt_datefield_value(at.date()),
            "direction": "CREDIT" if minor >= 0 else "DEBIT",
            "amount_minor": minor,
        }
        rows.append([varying.get(f.attname, prepared.get(f.attname)) for f in fields])
    table = ops.quote_name(Transaction._meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        for first in range(0, len(rows), 10_000):
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows[first : first + 10_000]
            )


def _daily_insert(account: Any, moves: list[tuple[datetime, int]]) -> None:
    """The daily rows an ingest of these moves would leave, written directly."""
    from accounts.models import DailyBalance

    per_day: dict[date, list[int]] = {}
    for at, minor in moves:
        per_day.setdefault(at.date(), []).append(minor)
    closing, rows = 0, []
    for day in sorted(per_day):
        inflow = sum(m for m in per_day[day] if m > 0)
        outflow = sum(m for m in per_day[day] if m < 0)
        closing += inflow + outflow
        rows.append(
            DailyBalance(
                account=account,
                date=day,
                closing_minor=closing,
                inflow_minor=inflow,
                outflow_minor=outflow,
                line_count=len(per_day[day]),
            )
        )
    DailyBalance.objects.bulk_create(rows, batch_size=2000)


def _setup(accounts: int, n: int, seed: int, daily_only: bool, stdout: Any) -> int:
    from accounts.models import DailyBalance
    from accounts.services import daily_balances_refresh

    rng = random.Random(seed)
    created = _accounts(accounts)
    for index, account in enumerate(created, 1):
        moves = _amounts(rng, n)
        with transaction.atomic():  # one commit per account, not one per row
            if daily_only:
                _daily_insert(account, moves)
            else:
                _lines_insert(account, moves)
                daily_balances_refresh(account=account, since=None)
        if index % 5 == 0:
            stdout.write(f"  {index}/{accounts} accounts stored")
    return DailyBalance.objects.count()


def run(*, stdout: Any, accounts: int, n: int, seed: int, daily_only: bool, **_: Any) -> dict:
    from accounts.models import Transaction
    from treasury.fbar.selectors import fbar_year
    from treasury.fbar.services import fbar_monitor_run

    what = "daily balances directly" if daily_only else f"{n:,} lines each + daily refresh"
    stdout.write(f"Storing {accounts} accounts: {what} (not timed)…")
    with stopwatch() as setup:
        daily_rows = _setup(accounts, n, seed, daily_only, stdout)
    lines = Transaction.objects.count()
    stdout.write(f"Computing FBAR {YEAR} over {daily_rows:,} daily rows ({lines:,} lines)…")
    with CaptureQueriesContext(connection) as queries, stopwatch() as watch:
        result = fbar_year(year=YEAR, today=TODAY)
    with stopwatch() as monitor:
        fbar_monitor_run(today=TODAY)
    table = Transaction._meta.db_table
    lines_read = any(table in query["sql"] for query in queries.captured_queries)
    return {
        "accounts": accounts,
        "lines_per_account": 0 if daily_only else n,
        "lines": lines,
        "daily_rows": daily_rows,
        "data": "daily rows written directly" if daily_only else "raw line insert + refresh",
        "setup_seconds": round(setup.seconds, 1),
        "seconds": round(watch.seconds, 3),
        "queries": len(queries.captured_queries),
        "lines_read": lines_read,
        "monitor_seconds": round(monitor.seconds, 3),
        "aggregate_usd": result.aggregate_usd,
        "filing_required": result.filing_required,
    }
