"""Accounts and balances for the FBAR tests, stored the way Bulwark stores them: lines
through the real ingest (which keeps the daily balances), month-end balances through the
FBAR service."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

from accounts.lines import StatementLine
from accounts.models import CashAccount, DailyBalance, Institution
from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, InstitutionFactory
from treasury.fbar.models import FbarAccount

WISE_ADDRESS = "Rue du Trône 100, 1050 Brussels, Belgium"


def wise_account(currency: str, *, foreign: bool = True, **extra: object) -> CashAccount:
    """A Wise balance (Wise Europe SA), flagged foreign by the owner unless told."""
    wise = Institution.objects.filter(kind=Institution.Kind.WISE).first() or InstitutionFactory(
        name="Wise Europe SA", address=WISE_ADDRESS, country="BE"
    )
    account = CashAccountFactory(
        institution=wise, currency=currency, is_foreign_for_fbar=foreign, **extra
    )
    FbarAccount.objects.create(account=account, flag_decided_at=datetime(2025, 1, 2, tzinfo=UTC))
    return account


def bank_account(currency: str, *, name: str = "Sparkasse Giro", **extra: object) -> CashAccount:
    bank = InstitutionFactory(
        name="Berliner Sparkasse", kind=Institution.Kind.BANK, country="DE",
        address="Alexanderplatz 2, 10178 Berlin, Germany",
    )  # fmt: skip
    account = CashAccountFactory(
        institution=bank, currency=currency, name=name, wise_balance_id=None,
        account_number="DE89370400440532013000", is_foreign_for_fbar=True, **extra,
    )  # fmt: skip
    FbarAccount.objects.create(
        account=account, added_here=True, flag_decided_at=datetime(2025, 1, 2, tzinfo=UTC)
    )
    return account


def lines(account: CashAccount, *moves: tuple[date, str]) -> None:
    """Store one line per (day, signed amount) through the real ingest."""
    items = [
        StatementLine(
            booked_at=datetime.combine(day, time(12, 0), tzinfo=UTC),
            amount=Decimal(amount),
            currency=account.currency,
            reference_number=f"T-{account.pk}-{n}",
            description=f"Move {n}",
        )
        for n, (day, amount) in enumerate(moves)
    ]
    transactions_ingest(account=account, lines=items, source="API")


def daily(account: CashAccount, day: date, closing_minor: int) -> DailyBalance:
    """A daily balance row written directly (for a balance the lines are not needed for)."""
    return DailyBalance.objects.create(account=account, date=day, closing_minor=closing_minor)
