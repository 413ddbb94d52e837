"""Exchange rates are stored exactly on SQLite and PostgreSQL alike: a rate above 100,000
with ten decimals once came back from SQLite with fewer digits, and `verify_trail` then
reported the line as changed (a false tamper alarm)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.lines import StatementLineError
from accounts.models import Transaction
from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line
from ledger.models import Organisation, Posting

pytestmark = pytest.mark.django_db

# 24 digits with 10 after the point (the column's limit), the case that failed, the least.
LIMITS = (
    Decimal("99999999999999.9999999999"),
    Decimal("123456.1234567891"),
    Decimal("0.0000000001"),
)


@pytest.mark.parametrize("rate", LIMITS)
def test_a_rate_at_the_limits_comes_back_whole_and_the_chain_holds(rate, capsys):
    account = CashAccountFactory(currency="USD")
    converted = line(
        "-1.00", currency="USD", fx_rate=rate, counter_currency="EUR",
        counter_amount=Decimal("0.90"),
    )  # fmt: skip
    transactions_ingest(account=account, lines=[converted], source="API")
    assert Transaction.objects.get().fx_rate == rate
    assert Transaction.objects.filter(fx_rate=rate).exists()
    call_command("verify_trail")  # raises CommandError on a broken chain
    assert "All 1 account chains hold." in capsys.readouterr().out


@pytest.mark.parametrize(
    "rate", [Decimal("1.12345678901"), Decimal("100000000000000.5")], ids=["11dp", "15 digits"]
)
def test_a_rate_the_column_cannot_hold_is_refused_not_rounded(rate):
    account = CashAccountFactory(currency="USD")
    refused = line("-1.00", currency="USD", fx_rate=rate)
    with pytest.raises(StatementLineError, match="more digits than Bulwark stores"):
        transactions_ingest(account=account, lines=[refused], source="API")
    assert not Transaction.objects.exists()


def test_a_posting_keeps_its_currency_rate_whole():
    account = CashAccountFactory(currency="USD")
    transactions_ingest(account=account, lines=[line("-1.00", currency="USD")], source="API")
    Posting.objects.create(
        organisation=Organisation.objects.create(tenant_id="t", name="Org"),
        transaction=Transaction.objects.get(), key="bulwark:t1", currency="IRR",
        currency_rate=LIMITS[1], sent_at=datetime.now(tz=UTC),
    )  # fmt: skip
    assert Posting.objects.get().currency_rate == LIMITS[1]
