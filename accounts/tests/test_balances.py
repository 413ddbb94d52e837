"""The one balance selector: which source gives an account's balance on a day, and the
window every page reads, in a fixed number of queries."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from accounts.balances import LINES, OPENING, balance_on, balance_window, balances_on
from accounts.lines import StatementLine
from accounts.models import BalanceSnapshot
from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory

pytestmark = pytest.mark.django_db


def ingest(account, *moves):
    transactions_ingest(
        account=account,
        lines=[
            StatementLine(
                booked_at=datetime.combine(day, time(12), tzinfo=UTC), amount=Decimal(amount),
                currency=account.currency, reference_number=f"R{n}", running_balance=None,
            )
            for n, (day, amount) in enumerate(moves)
        ],
        source="API",
    )  # fmt: skip


def report(account, day, minor, source="MANUAL", hour=23):
    BalanceSnapshot.objects.create(
        account=account, taken_at=datetime.combine(day, time(hour, 59), tzinfo=UTC),
        balance_minor=minor, source=source,
    )  # fmt: skip


def figure(account, day):
    found = balance_on(account=account, on=day)
    return found.minor, found.source


def test_an_account_without_lines_has_its_latest_reported_balance():
    account = CashAccountFactory(currency="EUR", wise_balance_id=None)
    assert figure(account, date(2025, 1, 30)) == (0, OPENING)
    report(account, date(2025, 1, 31), 274000)
    report(account, date(2025, 2, 28), 275000)
    assert figure(account, date(2025, 1, 31)) == (274000, "MANUAL")
    assert figure(account, date(2025, 2, 27)) == (274000, "MANUAL")  # stands until the next
    assert figure(account, date(2025, 6, 1)) == (275000, "MANUAL")


def test_inside_the_lines_span_the_lines_speak_and_a_report_does_not():
    account = CashAccountFactory(currency="EUR")
    ingest(account, (date(2025, 3, 1), "100.00"), (date(2025, 3, 10), "50.00"))
    report(account, date(2025, 3, 5), 99999, source="WISE")  # disagrees: a proof's business
    assert figure(account, date(2025, 3, 5)) == (10000, LINES)
    assert figure(account, date(2025, 3, 10)) == (15000, LINES)


def test_before_the_first_line_and_after_the_last_a_report_stands():
    account = CashAccountFactory(currency="EUR")
    report(account, date(2025, 1, 31), 20000)  # a month end before the lines start
    ingest(account, (date(2025, 3, 1), "100.00"))
    report(account, date(2025, 3, 1), 55555, hour=8)  # same day as a line: the line wins
    report(account, date(2025, 3, 20), 12000, source="WISE")  # read after the last line
    assert figure(account, date(2025, 2, 15)) == (20000, "MANUAL")
    assert figure(account, date(2025, 3, 1)) == (10000, LINES)
    assert figure(account, date(2025, 3, 19)) == (10000, LINES)
    assert figure(account, date(2025, 3, 20)) == (12000, "WISE")


def test_the_window_moves_with_reports_and_its_flows_add_up(django_assert_num_queries):
    account = CashAccountFactory(currency="EUR")
    report(account, date(2025, 1, 31), 20000)
    ingest(account, (date(2025, 3, 1), "100.00"), (date(2025, 3, 2), "-30.00"))
    report(account, date(2025, 3, 20), 12000, source="WISE")
    with django_assert_num_queries(3):
        window = balance_window(after=date(2025, 1, 1), until=date(2025, 3, 31))
    rows = [(day, closing, inflow, outflow) for _, day, closing, inflow, outflow, _ in window.rows]
    assert rows == [
        (date(2025, 1, 31), 20000, 20000, 0),
        # The line's 100.00, less the 100.00 the opening balance says was not there.
        (date(2025, 3, 1), 10000, 10000, -20000),
        (date(2025, 3, 2), 7000, 0, -3000),
        (date(2025, 3, 20), 12000, 5000, 0),
    ]
    carried = window.accounts[0].balance.minor
    assert carried + sum(r[2] + r[3] for r in rows) == rows[-1][1]
    assert window.timelines()[account.pk].on(date(2025, 3, 25)).source == "WISE"


def test_balances_of_every_account_in_one_query(django_assert_num_queries):
    hand = CashAccountFactory(currency="EUR", wise_balance_id=None)
    fed = CashAccountFactory(currency="USD")
    report(hand, date(2025, 1, 31), 274000)
    ingest(fed, (date(2025, 1, 5), "7.00"))
    with django_assert_num_queries(1):
        found = balances_on(on=date(2025, 2, 1))
    assert {pk: b.minor for pk, b in found.items()} == {hand.pk: 274000, fed.pk: 700}
