from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from accounts.lines import StatementLine
from accounts.models import CashAccount, Institution


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    name = "Wise"
    kind = Institution.Kind.WISE
    country = "BE"
    address = "Rue du Trône 100, 1050 Brussels, Belgium"


class CashAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CashAccount

    institution = factory.SubFactory(InstitutionFactory)
    currency = "EUR"
    name = factory.LazyAttribute(lambda o: f"{o.currency} balance")
    kind = CashAccount.Kind.STANDARD
    wise_balance_id = factory.Sequence(lambda n: 5000 + n)


START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def line(
    amount: str,
    *,
    currency: str = "EUR",
    day: int = 0,
    ref: str | None = None,
    balance: str | None = None,
    **extra: object,
) -> StatementLine:
    """A statement line `day` days after START, with a unique reference by default."""
    booked_at = START + timedelta(days=day, minutes=len(amount) + int(Decimal(amount) % 50))
    return StatementLine(
        booked_at=booked_at,
        amount=Decimal(amount),
        currency=currency,
        reference_number=ref if ref is not None else f"TRANSFER-{day}-{amount}",
        running_balance=None if balance is None else Decimal(balance),
        description=f"Line {amount} on day {day}",
        raw={"amount": {"value": Decimal(amount), "currency": currency}},
        **extra,  # type: ignore[arg-type]
    )
