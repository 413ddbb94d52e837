"""One money and date format on every page, the admin included: amounts grouped at the
currency's minor unit with a true minus sign, dates as ISO 8601."""

from decimal import Decimal

import pytest

from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line
from treasury.money import money_format

pytestmark = pytest.mark.django_db


def test_money_is_grouped_with_a_true_minus_sign():
    assert money_format(Decimal("-33768.88"), "EUR") == "\u221233,768.88 EUR"
    assert money_format(Decimal("-0.004"), "EUR") == "0.00 EUR"  # no minus on a zero


def test_the_admin_writes_money_and_dates_as_the_pages_do(owner_client):
    account = CashAccountFactory(currency="EUR")
    transactions_ingest(account=account, lines=[line("33768.88"), line("-12.00", day=1)],
                        source="API")  # fmt: skip
    daily = owner_client.get("/admin/accounts/dailybalance/").content.decode()
    assert "33,768.88 EUR" in daily
    assert "3376888" not in daily
    assert "2025-01-06" in daily  # not "Jan. 6, 2025"
    lines = owner_client.get("/admin/accounts/transaction/").content.decode()
    assert "\u221212.00 EUR" in lines
    assert "2025-01-07 " in lines
    assert "Jan." not in lines
    page = owner_client.get("/transactions/").content.decode()
    assert "\u221212.00 EUR" in page
