"""Histories for the cash view's tests and benchmark, built fast.

- `history_bulk(...)`: N lines over the accounts and days, inserted in bulk straight into
  the table (no hash chain: the dashboard never reads it), then `daily_balances_refresh`,
  as every import does. A million lines take well under a minute on SQLite.
- `ecb_rates(...)`: the ECB simulator's deterministic rates stored as `Rate` rows.
- `freelancer(...)`: a realistic business of one through the real ingest (client
  payments in several currencies, card spend, conversions, fees, interest), for the
  browser test and its screenshot.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction

from accounts.lines import StatementLine
from accounts.models import CashAccount, Institution, Transaction
from accounts.services import daily_balances_refresh, transactions_ingest
from simulators.ecb.data import history
from treasury.fx.models import Rate, Source
from treasury.money import minor_units

# Eight balances of a business of one: Wise in four currencies plus two jars, a foreign
# bank account, and a Swiss franc balance.
ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("Wise", "USD balance", "USD", CashAccount.Kind.STANDARD),
    ("Wise", "EUR balance", "EUR", CashAccount.Kind.STANDARD),
    ("Wise", "GBP balance", "GBP", CashAccount.Kind.STANDARD),
    ("Wise", "JPY balance", "JPY", CashAccount.Kind.STANDARD),
    ("Wise", "Tax jar", "USD", CashAccount.Kind.SAVINGS),
    ("Wise", "Euro savings jar", "EUR", CashAccount.Kind.SAVINGS),
    ("Wise", "CHF balance", "CHF", CashAccount.Kind.STANDARD),
    ("Sparkasse Berlin", "Girokonto", "EUR", CashAccount.Kind.CHECKING),
)


def accounts_make(specs: Sequence[tuple[str, str, str, str]] = ACCOUNTS) -> list[CashAccount]:
    institutions: dict[str, Institution] = {}
    made = []
    for institution, name, currency, kind in specs:
        if institution not in institutions:
            institutions[institution] = Institution.objects.create(
                name=institution,
                kind=Institution.Kind.WISE if institution == "Wise" else Institution.Kind.BANK,
                country="BE" if institution == "Wise" else "DE",
            )
        made.append(
            CashAccount.objects.create(
                institution=institutions[institution], name=name, currency=currency, kind=kind
            )
        )
    return made


def history_bulk(
    accounts: Sequence[CashAccount], *, lines: int, start: date, end: date, seed: int = 1
) -> None:
    """`lines` lines spread evenly over the accounts and the days from `start` to `end`,
    amounts drawn so every balance drifts upward; daily balances refreshed after."""
    rng = random.Random(seed)
    days = (end - start).days + 1
    columns = (
        "account_id", "seq", "natural_key", "booked_at", "booked_on", "direction", "currency",
        "amount_minor", "fee_minor", "wise_type", "description", "counterparty",
        "reference_number", "payment_reference", "counter_currency", "source", "raw",
        "prev_digest", "digest", "created_at",
    )  # fmt: skip
    table = Transaction._meta.db_table
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names from the model
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    ops = connection.ops
    now = ops.adapt_datetimefield_value(datetime.now(tz=UTC))
    raw = Transaction._meta.get_field("raw").get_db_prep_value({}, connection)
    per_account = [
        lines // len(accounts) + (n < lines % len(accounts)) for n in range(len(accounts))
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for account, count in zip(accounts, per_account, strict=True):
            scale = 10 ** minor_units(account.currency)
            rows = []
            for k in range(count):
                day = start + timedelta(days=k * days // max(count, 1))
                booked_at = datetime.combine(day, time(9), tzinfo=UTC) + timedelta(seconds=k % 3600)
                amount = rng.randint(-400, 500) * scale + rng.randint(0, scale - 1)
                direction = "CREDIT" if amount >= 0 else "DEBIT"
                rows.append((
                    account.pk, k + 1, f"bench-{account.pk}-{k}",
                    ops.adapt_datetimefield_value(booked_at), ops.adapt_datefield_value(day),
                    direction, account.currency, amount, 0, "TRANSFER", f"Line {k}", "",
                    f"REF-{k}", "", "", Transaction.Source.API, raw, "", f"{k:064x}", now,
                ))  # fmt: skip
                if len(rows) == 20_000:
                    cursor.executemany(sql, rows)
                    rows = []
            if rows:
                cursor.executemany(sql, rows)
    for account in accounts:
        daily_balances_refresh(account=account, since=None)


def ecb_rates(
    *, start: date, end: date, codes: Iterable[str], seed: int = 1, skip: Iterable[date] = ()
) -> int:
    """The ECB simulator's rates for `codes` (units per EUR) on its TARGET days."""
    wanted, left_out = set(codes) - {"EUR"}, set(skip)
    rows = [
        Rate(source=Source.ECB, base="EUR", quote=code, date=day, rate=value)
        for day, quotes in history(seed, end)
        if start <= day and day not in left_out
        for code, value in quotes
        if code in wanted
    ]
    Rate.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- a realistic business of one --------------------------------------------------------------


def _amount(rng: random.Random, low: int, high: int, currency: str) -> Decimal:
    places = minor_units(currency)
    value = Decimal(rng.randint(low * 10**places, high * 10**places)).scaleb(-places)
    return value.quantize(Decimal(1).scaleb(-places))


def freelancer(*, start: date, end: date, seed: int = 3) -> list[CashAccount]:
    """A U.S. freelancer working globally, through the real ingest."""
    rng = random.Random(seed)
    accounts = accounts_make(ACCOUNTS[:6] + ACCOUNTS[7:])
    by_name = {a.name: a for a in accounts}
    plan: dict[str, list[StatementLine]] = {a.name: [] for a in accounts}
    number = 0

    def add(name: str, day: date, amount: Decimal, kind: str, text: str, party: str = "") -> None:
        nonlocal number
        number += 1
        account = by_name[name]
        booked = datetime.combine(day, time(8 + number % 10, number % 60), tzinfo=UTC)
        plan[name].append(
            StatementLine(
                booked_at=booked,
                amount=amount,
                currency=account.currency,
                wise_type=kind,
                description=text,
                counterparty=party,
                reference_number=f"{kind}-{number}",
            )
        )

    add("USD balance", start, Decimal("18500.00"), "MONEY_ADDED", "Opening transfer")
    add("EUR balance", start, Decimal("9200.00"), "MONEY_ADDED", "Opening transfer")
    add("Girokonto", start, Decimal("4100.00"), "TRANSFER", "Opening balance")
    day = start
    while day <= end:
        if day.day == 3:
            add("USD balance", day, _amount(rng, 7000, 11000, "USD"), "TRANSFER",
                "Invoice paid", "Northwind Inc.")  # fmt: skip
            aside = _amount(rng, 1200, 1800, "USD")
            add("USD balance", day, -aside, "TRANSFER", "To the tax jar")
            add("Tax jar", day, aside, "TRANSFER", "Set aside for tax")
        if day.day == 5:
            add("USD balance", day, -_amount(rng, 3000, 4000, "USD"), "TRANSFER",
                "Owner's draw", "Personal checking")  # fmt: skip
        if day.day == 15 and day.month in (1, 4, 6, 9):
            add("Tax jar", day, -_amount(rng, 2600, 3600, "USD"), "DIRECT_DEBIT",
                "Estimated tax", "IRS")  # fmt: skip
        if day.day == 12:
            add("EUR balance", day, _amount(rng, 3500, 6000, "EUR"), "TRANSFER",
                "Invoice paid", "Brandt GmbH")  # fmt: skip
            add("Euro savings jar", day, _amount(rng, 300, 600, "EUR"), "TRANSFER", "Savings")
        if day.day == 18 and day.month % 2 == 0:
            add("GBP balance", day, _amount(rng, 2500, 4200, "GBP"), "TRANSFER",
                "Invoice paid", "Hartley & Sons Ltd")  # fmt: skip
        if day.day == 22 and day.month % 3 == 0:
            add("JPY balance", day, _amount(rng, 180000, 420000, "JPY"), "TRANSFER",
                "Invoice paid", "Kobayashi KK")  # fmt: skip
        if day.weekday() < 5 and rng.random() < 0.5:
            add("USD balance", day, -_amount(rng, 8, 240, "USD"), "CARD", "Card payment",
                rng.choice(["AWS", "Figma", "Delta", "Uber", "Notion"]))  # fmt: skip
        if day.weekday() < 5 and rng.random() < 0.25:
            add("EUR balance", day, -_amount(rng, 5, 180, "EUR"), "CARD", "Card payment",
                rng.choice(["Deutsche Bahn", "Rewe", "Lufthansa", "Hetzner"]))  # fmt: skip
        if day.day == 1:
            add("Girokonto", day, -_amount(rng, 950, 1050, "EUR"), "DIRECT_DEBIT", "Rent")
            add("EUR balance", day, -Decimal("1000.00"), "TRANSFER", "To Sparkasse")
            add("Girokonto", day, Decimal("1000.00"), "TRANSFER", "From Wise")
        if day.day == 15:
            add("USD balance", day, -Decimal("2500.00"), "CONVERSION", "Converted USD to EUR")
            add("EUR balance", day, _amount(rng, 2150, 2350, "EUR"), "CONVERSION",
                "Converted USD to EUR")  # fmt: skip
            add("USD balance", day, -_amount(rng, 6, 14, "USD"), "ACCRUAL_CHARGE", "Wise fee")
        if day.day == 28:
            add("USD balance", day, _amount(rng, 15, 40, "USD"), "BALANCE_INTEREST", "Interest")
            add("GBP balance", day, -_amount(rng, 300, 900, "GBP"), "TRANSFER",
                "Contractor", "Ellis Design")  # fmt: skip
            add("JPY balance", day, -_amount(rng, 10000, 60000, "JPY"), "CARD", "Card payment",
                "JR East")  # fmt: skip
        day += timedelta(days=1)
    for name, lines in plan.items():
        if lines:
            transactions_ingest(account=by_name[name], lines=lines, source="API")
    return accounts
