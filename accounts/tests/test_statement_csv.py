"""Wise CSV balance statements: the export's layout in, exact lines out; bad files refused."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from accounts.lines import StatementLineError
from accounts.selectors import balance_minor_on
from accounts.statements.services import statement_import
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import line_by, sample, sample_text, stored_state

pytestmark = pytest.mark.django_db


def _import(account, data: bytes, name: str = "statement.csv"):
    return statement_import(account=account, data=data, filename=name)


def test_current_export_imports_every_line_with_exact_amounts():
    account = CashAccountFactory(currency="EUR")
    result = _import(account, sample("wise_eur_2025-03.csv"), "wise_eur_2025-03.csv")

    assert (result.format, result.lines, result.created, result.skipped) == ("csv", 6, 6, 0)
    conversion = line_by(account, "BALANCE-3300001")
    assert conversion.amount == Decimal("-1000.00")  # the fee is inside, as Wise reports it
    assert conversion.fee == Decimal("4.14")
    assert (conversion.counter_currency, conversion.counter_amount) == ("GBP", Decimal("835.62"))
    assert conversion.fx_rate == Decimal("0.8391")
    assert conversion.wise_type == "CONVERSION"
    abroad = line_by(account, "CARD-2200002")
    assert (abroad.amount_minor, abroad.fee_minor) == (-11123, 55)
    assert (abroad.counter_currency, abroad.counter_amount) == ("USD", Decimal("120.00"))
    assert abroad.counterparty == "Figma"
    # A refund reuses its payment's reference: both lines are kept.
    assert line_by(account, "CARD-2200001", "DEBIT").amount == Decimal("-42.90")
    assert line_by(account, "CARD-2200001", "CREDIT").amount == Decimal("42.90")
    deposit = line_by(account, "TRANSFER-1100001", "CREDIT")
    assert (deposit.counterparty, deposit.payment_reference) == ("Northwind GmbH", "INV-2025-0042")
    assert deposit.source == "CSV"
    # 23:59:59.999 UTC stays on its UTC day.
    cashback = line_by(account, "BALANCE_CASHBACK-510151a4-4ead-46c5-05ab-99b88521063c", "CREDIT")
    assert cashback.booked_on == date(2025, 3, 14)
    assert cashback.natural_key == (
        "BALANCE_CASHBACK-510151a4-4ead-46c5-05ab-99b88521063c|C|20250314|92"
    )
    account.refresh_from_db()
    assert account.opening_balance == Decimal("1000.00")
    assert balance_minor_on(account, date(2025, 3, 31)) == 238969
    assert cashback.running_balance == Decimal("2389.69")


def test_older_header_and_jpy_amounts_are_exact():
    account = CashAccountFactory(currency="JPY")
    result = _import(account, sample("wise_jpy_2025-03.csv"))

    assert result.created == 3
    deposit = line_by(account, "TRANSFER-1300001", "CREDIT")
    assert (deposit.amount_minor, deposit.amount) == (450000, Decimal("450000"))
    assert deposit.payment_reference == "請求書 118"
    assert deposit.booked_on == date(2025, 3, 4)
    conversion = line_by(account, "BALANCE-3300003")
    assert (conversion.amount_minor, conversion.fee_minor) == (-200000, 1460)
    assert conversion.counter_currency == "EUR"
    assert conversion.fx_rate == Decimal("0.006141")
    account.refresh_from_db()
    assert account.opening_balance == Decimal("50000")
    assert balance_minor_on(account, date(2025, 3, 31)) == 296020


def test_fee_rows_fold_into_their_payment_like_the_api_reports_it():
    account = CashAccountFactory(currency="GBP")
    result = _import(account, sample("wise_gbp_flat_2025-03.csv"))

    assert result.created == 2
    card = line_by(account, "CARD-4400001")
    assert (card.amount, card.fee, card.running_balance) == (
        Decimal("-11.35"), Decimal("0.35"), Decimal("188.65"),
    )  # fmt: skip
    assert card.natural_key == "CARD-4400001|D|20250306|-1135"
    assert not account.transactions.filter(reference_number__startswith="FEE-").exists()


def test_semicolons_padding_and_column_order_are_tolerated():
    rows = list(csv.reader(io.StringIO(sample_text("wise_eur_2025-03.csv"))))
    order = list(reversed(range(len(rows[0]))))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    for row in rows:
        writer.writerow([f" {row[i]} " for i in order])
    account = CashAccountFactory(currency="EUR")

    assert _import(account, out.getvalue().encode("utf-8-sig")).created == 6
    assert line_by(account, "BALANCE-3300001").fee == Decimal("4.14")


def test_the_transaction_history_export_is_refused_with_a_pointer():
    data = (
        b'ID,Status,Direction,"Created on","Finished on","Source amount (after fees)"\n'
        b"TRANSFER-1,COMPLETED,OUT,2025-03-01 10:00:00,2025-03-01 10:00:01,10.00\n"
    )
    account = CashAccountFactory(currency="EUR")
    with pytest.raises(StatementLineError, match="Line 1: this is Wise's transaction-history"):
        _import(account, data)


@pytest.mark.parametrize(
    ("currency", "name", "old", "new", "message"),
    [
        ("EUR", "wise_eur_2025-03.csv", '"-111.23"', '"-111,2x"',
         r"Line 5: the amount '-111,2x' is not a number"),
        ("GBP", "wise_eur_2025-03.csv", "", "",
         r"Line 2: currency EUR does not match the account's currency GBP"),
        ("EUR", "wise_eur_2025-03.csv", '"-42.90","EUR"', '"-42.90","EUX"',
         r"Line 6: Unknown currency code 'EUX'"),
        ("JPY", "wise_jpy_2025-03.csv", '"-3980"', '"-3980.5"',
         r"Line 3: -3980.5 JPY has more than 0 decimals"),
        ("EUR", "wise_eur_2025-03.csv", '"07-03-2025","07-03-2025 13:44', '"2025/13/07","x',
         r"Line 5: the date and time 'x"),
        ("EUR", "wise_eur_2025-03.csv", '"CREDIT","CARD"\n', '"CREDIT","CARD","extra"\n',
         r"Line 3: 24 fields where the header has 23"),
        ("EUR", "wise_eur_2025-03.csv", '"TransferWise ID",', '"Reference",',
         r'Line 1: this is not a Wise statement CSV: the header lacks "TransferWise ID"'),
    ],
    ids=["bad-amount", "wrong-currency", "unknown-currency", "inexact-jpy", "bad-date",
         "extra-field", "no-id-column"],
)  # fmt: skip
def test_a_bad_file_is_refused_whole_naming_the_line(currency, name, old, new, message):
    account = CashAccountFactory(currency=currency)
    before = stored_state(account)
    text = sample_text(name)
    assert old in text
    with pytest.raises(StatementLineError, match=message):
        _import(account, text.replace(old, new, 1).encode())
    assert stored_state(account) == before


def test_a_file_cut_short_is_refused():
    text = sample_text("wise_eur_2025-03.csv")
    cut = text[: text.index('"Figma"')]
    account = CashAccountFactory(currency="EUR")
    with pytest.raises(StatementLineError, match=r"Line 5: 15 fields where the header has 23"):
        _import(account, cut.encode())
    assert not account.transactions.exists()
