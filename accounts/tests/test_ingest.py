"""Storing statement lines: once, all or nothing, chained, with daily balances kept."""

import threading
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, connections

from accounts.balances import accounts_with_balance
from accounts.lines import StatementLineError
from accounts.models import DailyBalance, ImmutableRecordError, Transaction
from accounts.selectors import balance_minor_on, trail_verify
from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line

pytestmark = pytest.mark.django_db


def _ingest(account, lines, **kwargs):
    return transactions_ingest(account=account, lines=lines, source="API", **kwargs)


def test_second_ingest_of_the_same_lines_adds_nothing():
    account = CashAccountFactory()
    lines = [line("100.00", day=0), line("-20.50", day=1), line("5.25", day=1)]
    first = _ingest(account, lines)
    second = _ingest(account, lines)
    assert (first.created, first.skipped) == (3, 0)
    assert (second.created, second.skipped) == (0, 3)
    assert Transaction.objects.filter(account=account).count() == 3


def test_same_reference_in_both_directions_is_two_lines():
    """A refund reuses the transfer's reference number; both must be kept."""
    account = CashAccountFactory()
    result = _ingest(account, [line("-40.00", ref="TRANSFER-9"), line("40.00", ref="TRANSFER-9")])
    assert result.created == 2


def test_one_bad_line_stores_nothing_and_names_the_line():
    account = CashAccountFactory(currency="EUR")
    lines = [line("10.00"), line("12.00", currency="GBP", line_no=7)]
    with pytest.raises(StatementLineError, match="Line 7: currency GBP does not match"):
        _ingest(account, lines)
    assert not Transaction.objects.exists()


def test_jpy_with_decimals_is_refused():
    account = CashAccountFactory(currency="JPY")
    with pytest.raises(StatementLineError, match="more than 0 decimals"):
        _ingest(account, [line("1500.5", currency="JPY", line_no=1)])


def test_unknown_currency_is_refused():
    account = CashAccountFactory(currency="EUR")
    with pytest.raises(StatementLineError, match="Unknown currency code 'EUX'"):
        _ingest(account, [line("10", currency="EUX")])


def test_amounts_are_exact_minor_units():
    account = CashAccountFactory(currency="JPY")
    _ingest(account, [line("120000", currency="JPY")])
    stored = Transaction.objects.get()
    assert stored.amount_minor == 120000
    assert stored.amount == Decimal("120000")
    assert stored.raw == {"amount": {"value": "120000", "currency": "JPY"}}


def test_daily_balances_match_independent_sums_and_opening_from_running_balance():
    account = CashAccountFactory()
    # Opening 1000.00: the first line's running balance minus its amount.
    lines = [
        line("250.00", day=0, balance="1250.00"),
        line("-100.10", day=0, balance="1149.90"),
        line("-49.90", day=3, balance="1100.00"),
        line("0.01", day=10, balance="1100.01"),
    ]
    _ingest(account, lines)
    account.refresh_from_db()
    assert account.opening_balance == Decimal("1000.00")
    days = list(DailyBalance.objects.filter(account=account).values_list("date", "closing_minor"))
    assert days == [
        (date(2025, 1, 6), 114990),
        (date(2025, 1, 9), 110000),
        (date(2025, 1, 16), 110001),
    ]
    assert balance_minor_on(account, date(2025, 1, 5)) == 100000
    assert balance_minor_on(account, date(2025, 1, 12)) == 110000


def test_lines_of_one_instant_open_from_the_one_their_running_balances_put_first():
    account = CashAccountFactory()
    # One instant, listed newest first as Wise lists them: 150,000 arrived (0 → 150,000),
    # then 120,000 of it was converted away (150,000 → 30,000). The opening is 0, whichever
    # of the two was stored first.
    moment = line("1", day=2).booked_at
    converted = line("-120000", currency="JPY", day=2, balance="30000")
    paid = line("150000", currency="JPY", day=2, balance="150000")
    account.currency = "JPY"
    account.save(update_fields=["currency"])
    _ingest(account, [replace(converted, booked_at=moment), replace(paid, booked_at=moment)])
    account.refresh_from_db()
    assert account.opening_balance_minor == 0
    assert list(
        DailyBalance.objects.filter(account=account).values_list("closing_minor", flat=True)
    ) == [30000]


def test_an_older_line_arriving_later_refreshes_the_days_after_it():
    account = CashAccountFactory()
    _ingest(account, [line("100.00", day=5), line("-30.00", day=8)])
    _ingest(account, [line("10.00", day=6)])
    closings = list(
        DailyBalance.objects.filter(account=account).values_list("closing_minor", flat=True)
    )
    assert closings == [10000, 11000, 8000]


def test_stated_opening_balance_applies_when_no_running_balances():
    account = CashAccountFactory()
    _ingest(account, [line("10.00", day=1)], opening_balance=Decimal("500.00"))
    account.refresh_from_db()
    assert account.opening_balance_minor == 50000
    assert DailyBalance.objects.get(account=account).closing_minor == 51000


def test_balances_for_all_accounts_in_one_query(django_assert_num_queries):
    eur, usd = CashAccountFactory(currency="EUR"), CashAccountFactory(currency="USD")
    _ingest(eur, [line("10.00", day=1), line("5.00", day=4)])
    _ingest(usd, [line("7.00", currency="USD", day=2)])
    with django_assert_num_queries(1):
        balances = {a.currency: a.balance_minor for a in accounts_with_balance(on=date(2025, 1, 8))}
    assert balances == {"EUR": 1000, "USD": 700}


def test_stored_lines_cannot_be_changed_through_the_app():
    account = CashAccountFactory()
    _ingest(account, [line("10.00")])
    stored = Transaction.objects.get()
    stored.description = "edited"
    with pytest.raises(ImmutableRecordError):
        stored.save()
    with pytest.raises(ImmutableRecordError):
        stored.delete()
    with pytest.raises(ImmutableRecordError):
        Transaction.objects.filter(pk=stored.pk).update(description="edited")
    with pytest.raises(ImmutableRecordError):
        Transaction.objects.all().delete()


def test_trail_holds_then_names_the_line_changed_behind_the_apps_back():
    account = CashAccountFactory()
    _ingest(account, [line("10.00", day=d) for d in range(5)])
    assert trail_verify() == {account.pk: None}
    target = Transaction.objects.get(account=account, seq=3)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_transaction SET amount_minor = 100 WHERE id = %s", [target.pk]
        )
    link = trail_verify()[account.pk]
    assert link.seq == 3
    assert link.natural_key == target.natural_key
    assert link.reason == "content changed"


def test_trail_notices_a_deleted_line():
    account = CashAccountFactory()
    _ingest(account, [line("10.00", day=d) for d in range(3)])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_transaction WHERE seq = 3")
    assert trail_verify()[account.pk].reason == "lines removed from the end of the chain"


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_store_each_line_once():
    account = CashAccountFactory()
    lines = [line(f"{n}.00", day=n % 30) for n in range(1, 301)]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _ingest(account, lines)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Transaction.objects.filter(account=account).count() == 300
    assert trail_verify() == {account.pk: None}


def test_a_large_batch_overlapping_stored_lines_adds_only_the_new_ones():
    """Over 900 lines, existing keys are read by day range rather than key by key."""
    account = CashAccountFactory()
    first = [line(f"{n}.00", day=n % 200) for n in range(1, 1201)]
    assert _ingest(account, first).created == 1200
    again = [*first[600:], *(line(f"{n}.00", day=n % 200) for n in range(1201, 1211))]
    result = _ingest(account, again)
    assert (result.created, result.skipped) == (10, 600)
    assert Transaction.objects.filter(account=account).count() == 1210
    assert trail_verify() == {account.pk: None}


def test_stored_values_survive_the_database_round_trip():
    account = CashAccountFactory(currency="USD")
    converted = line(
        "-12.34",
        currency="USD",
        balance="100.00",
        counter_currency="EUR",
        counter_amount=Decimal("11.02"),
        fx_rate=Decimal("0.8930123"),
    )
    _ingest(account, [converted])
    stored = Transaction.objects.get()
    assert stored.booked_at.tzinfo is not None
    assert (stored.amount, stored.running_balance) == (Decimal("-12.34"), Decimal("100.00"))
    assert stored.counter_amount == Decimal("11.02")
    assert stored.fx_rate == Decimal("0.8930123000")
    assert stored.raw == {"amount": {"value": "-12.34", "currency": "USD"}}
    assert stored.created_at is not None
