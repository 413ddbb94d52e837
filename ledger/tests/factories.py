"""Demo-like Wise lines for the books tests and the `xero_push` benchmark.

`wise_year(n=...)` stores a year of lines over four cash accounts (USD, EUR, GBP and a
EUR savings jar) through `transactions_ingest`, the way every source stores them: card
spends with fees, incoming payments net of fees, conversions (both legs, sharing a Wise
reference) between EUR and USD and between GBP and EUR (neither is the base currency of
the simulator's first organisation), and jar moves.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from accounts.lines import StatementLine
from accounts.models import CashAccount, Institution, Transaction
from accounts.services import transactions_ingest

START = datetime(2025, 1, 2, 8, 0, tzinfo=UTC)
CENT = Decimal("0.01")
RATES = {("EUR", "USD"): Decimal("1.0812"), ("GBP", "EUR"): Decimal("1.1627")}
MERCHANTS = ("Figma", "AWS EMEA", "Deutsche Bahn", "Pret A Manger", "WeWork", "Notion Labs")
PAYERS = ("Acme Inc", "Globex GmbH", "Initech Ltd")


@dataclass
class DemoBooks:
    usd: CashAccount
    eur: CashAccount
    gbp: CashAccount
    jar: CashAccount

    @property
    def accounts(self) -> list[CashAccount]:
        return [self.usd, self.eur, self.gbp, self.jar]

    def lines(self) -> list[Transaction]:
        return list(Transaction.objects.filter(account__in=self.accounts))


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_EVEN)


def demo_accounts() -> DemoBooks:
    """Plain ORM, not factory_boy: the benchmark uses this too, with runtime packages only."""
    wise = Institution.objects.create(name="Wise", kind=Institution.Kind.WISE, country="BE")

    def balance(
        currency: str, name: str = "", kind: str = CashAccount.Kind.STANDARD
    ) -> CashAccount:
        return CashAccount.objects.create(
            institution=wise, currency=currency, kind=kind, name=name or f"{currency} balance"
        )

    return DemoBooks(
        usd=balance("USD"),
        eur=balance("EUR"),
        gbp=balance("GBP"),
        jar=balance("EUR", "Tax jar", CashAccount.Kind.SAVINGS),
    )


def wise_year(*, n: int = 400, seed: int = 11, books: DemoBooks | None = None) -> DemoBooks:
    """Store exactly `n` lines spread over a year (both legs of a pair always together)."""
    rng = random.Random(seed)
    books = books or demo_accounts()
    out: dict[int, list[StatementLine]] = defaultdict(list)
    count, serial = 0, 1000
    while count < n:
        serial += 1
        day = START + timedelta(days=rng.randrange(365), minutes=rng.randrange(600))
        pick = rng.random()
        if n - count >= 2 and pick < 0.08:
            _conversion(out, books.eur, books.usd, day, serial, rng)
        elif n - count >= 2 and pick < 0.12:
            _conversion(out, books.gbp, books.eur, day, serial, rng)
        elif n - count >= 2 and pick < 0.15:
            _jar_move(out, books.eur, books.jar, day, serial, rng)
        elif pick < 0.35:
            amount = _money(rng.uniform(800, 9000))
            fee = _money(rng.choice((0, 0, 1.2, 4.37)))
            account = rng.choice((books.usd, books.eur, books.gbp))
            out[account.pk].append(
                StatementLine(
                    booked_at=day,
                    amount=amount - fee,
                    fee=fee,
                    currency=account.currency,
                    wise_type="DEPOSIT",
                    counterparty=rng.choice(PAYERS),
                    description=f"Payment from {rng.choice(PAYERS)}",
                    reference_number=f"TRANSFER-{serial}",
                )
            )
        else:
            amount = _money(rng.uniform(3, 600))
            fee = _money(rng.choice((0, 0, 0, 0.35, 2.5)))
            account = rng.choice((books.usd, books.eur, books.gbp))
            merchant = rng.choice(MERCHANTS)
            out[account.pk].append(
                StatementLine(
                    booked_at=day,
                    amount=-(amount + fee),
                    fee=fee,
                    currency=account.currency,
                    wise_type="CARD",
                    counterparty=merchant,
                    description=f"Card payment {merchant}",
                    reference_number=f"CARD-{serial}",
                )
            )
        count = sum(len(lines) for lines in out.values())
    for account in books.accounts:
        transactions_ingest(account=account, lines=out[account.pk], source="API")
    return books


def _conversion(
    out: dict[int, list[StatementLine]],
    source: CashAccount,
    target: CashAccount,
    day: datetime,
    serial: int,
    rng: random.Random,
) -> None:
    rate = RATES[(source.currency, target.currency)]
    gross = _money(rng.uniform(200, 3000))
    fee = _money(gross * Decimal("0.0043"))
    received = _money((gross - fee) * rate)
    reference = f"BALANCE-{serial}"
    out[source.pk].append(
        StatementLine(
            booked_at=day,
            amount=-gross,
            fee=fee,
            currency=source.currency,
            wise_type="CONVERSION",
            description=f"Converted {gross} {source.currency} to {received} {target.currency}",
            reference_number=reference,
            counter_currency=target.currency,
            counter_amount=received,
            fx_rate=rate,
        )
    )
    out[target.pk].append(
        StatementLine(
            booked_at=day,
            amount=received,
            currency=target.currency,
            wise_type="CONVERSION",
            description=f"Converted {gross} {source.currency} to {received} {target.currency}",
            reference_number=reference,
            counter_currency=source.currency,
            counter_amount=gross - fee,
            fx_rate=rate,
        )
    )


def _jar_move(
    out: dict[int, list[StatementLine]],
    source: CashAccount,
    jar: CashAccount,
    day: datetime,
    serial: int,
    rng: random.Random,
) -> None:
    amount = _money(rng.uniform(50, 500))
    reference = f"BALANCE-{serial}"
    for account, signed in ((source, -amount), (jar, amount)):
        out[account.pk].append(
            StatementLine(
                booked_at=day,
                amount=signed,
                currency=account.currency,
                wise_type="CONVERSION",
                description=f"Moved {amount} EUR to Tax jar",
                reference_number=reference,
                counter_currency="EUR",
                counter_amount=amount,
                fx_rate=Decimal(1),
            )
        )
