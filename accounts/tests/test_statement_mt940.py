"""MT940: Wise's layout (reference on the :61:'s second line), a bank's; bad files refused."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.lines import StatementLineError
from accounts.selectors import balance_minor_on
from accounts.statements.services import statement_import
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import line_by, sample, sample_text, stored_state

pytestmark = pytest.mark.django_db


def _import(account, data: bytes, name: str = "statement.sta"):
    return statement_import(account=account, data=data, filename=name)


def test_wise_layout_in_a_swift_envelope_imports_every_line():
    account = CashAccountFactory(currency="EUR")
    result = _import(account, sample("mt940_eur_2025-03.sta"))

    assert (result.format, result.created) == ("mt940", 6)
    assert (result.opening_balance, result.closing_balance) == (
        Decimal("1000.00"), Decimal("2389.69"),
    )  # fmt: skip
    conversion = line_by(account, "BALANCE-3300001")
    assert conversion.amount == Decimal("-1000.00")  # the fee is inside the amount
    assert conversion.booked_on == date(2025, 3, 10)
    assert conversion.source == "MT940"
    assert conversion.raw["line"] == 15
    cashback = line_by(account, "BALANCE_CASHBACK-510151a4-4ead-46c5-05ab-99b88521063c", "CREDIT")
    assert cashback.natural_key == (
        "BALANCE_CASHBACK-510151a4-4ead-46c5-05ab-99b88521063c|C|20250314|92"
    )
    assert line_by(account, "CARD-2200001", "CREDIT").amount == Decimal("42.90")
    account.refresh_from_db()
    assert account.opening_balance == Decimal("1000.00")  # from :60F:
    assert balance_minor_on(account, date(2025, 3, 31)) == 238969


def test_jpy_across_two_statements_with_intermediate_balances():
    account = CashAccountFactory(currency="JPY")
    result = _import(account, sample("mt940_jpy_2025-03.sta"))

    assert (result.created, result.opening_balance, result.closing_balance) == (
        3, Decimal("50000"), Decimal("296020"),
    )  # fmt: skip
    assert line_by(account, "TRANSFER-1300001", "CREDIT").amount_minor == 450000
    assert line_by(account, "BALANCE-3300003").amount_minor == -200000
    assert balance_minor_on(account, date(2025, 3, 31)) == 296020


def test_a_bank_file_without_wise_references_imports_once():
    account = CashAccountFactory(currency="GBP")
    first = _import(account, sample("mt940_bank_gbp.sta"))
    again = _import(account, sample("mt940_bank_gbp.sta"))

    assert (first.created, again.created, again.skipped) == (4, 0, 4)
    # Two identical coffees on one day are two lines, told apart by their occurrence.
    coffees = account.transactions.filter(description="COFFEE STAND KINGS CROSS")
    keys = coffees.values_list("natural_key", flat=True)
    assert sorted(key.rsplit(".", 1)[1] for key in keys) == ["1", "2"]
    card = account.transactions.get(reference_number="B5C03PQ71A000001")
    assert (card.counterparty, card.payment_reference) == ("PRET A MANGER", "LONDON 03-03-2025")
    credit = account.transactions.get(reference_number="B5C04PQ71A000002")
    assert (credit.amount, credit.payment_reference) == (Decimal("50.00"), "INV-77")


@pytest.mark.parametrize(
    ("currency", "old", "new", "message"),
    [
        ("EUR", ":86:Cashback", ":6X:Cashback", r"Line 23: ':6X:' is not an MT940 tag"),
        ("EUR", ":86:Cashback", ":99:Cashback", r"Line 23: ':99:' is not an MT940 tag"),
        ("EUR", ":61:2503050305D42,90", ":61:2503050305D,,42",
         r"Line 9: the :61: field cannot be read: '2503050305D,,42FMSCNONREF'"),
        ("EUR", ":61:2503050305D42,90", ":61:250305Q305D42,90",
         r"Line 9: the :61: field cannot be read"),
        ("EUR", ":62F:C250331EUR2389,69", ":62F:C250331EUR2389,70",
         r"Line 24: the closing balance 2389.70 EUR is not the opening balance 1000.00 EUR "
         r"plus the lines \(2389.69 EUR\)"),
        ("EUR", ":62F:C250331EUR2389,69\r\n:64:C250331EUR2389,69\r\n-}\r\n", "",
         r"Line 23: the statement has no closing balance \(:62F:\); is the file cut short\?"),
        ("GBP", "", "", r"Line 6: currency EUR does not match the account's currency GBP"),
        ("EUR", "C250301EUR1000,00", "C250301EUQ1000,00",
         r"Line 5: Unknown currency code 'EUQ'"),
        ("EUR", ":20:5299558920250331", ":61:2503030303C1,00FMSCNONREF\r\n:20:5299558920250331",
         r"Line 2: an MT940 statement starts with a :20: tag; this line comes before one"),
    ],
    ids=["bad-tag", "unknown-tag", "bad-amount", "bad-date", "closing-mismatch", "cut-short",
         "wrong-currency", "unknown-currency", "junk"],
)  # fmt: skip
def test_a_bad_file_is_refused_whole_naming_the_line(currency, old, new, message):
    account = CashAccountFactory(currency=currency)
    before = stored_state(account)
    text = sample_text("mt940_eur_2025-03.sta")
    assert old in text
    with pytest.raises(StatementLineError, match=message):
        _import(account, text.replace(old, new, 1).encode())
    assert stored_state(account) == before


def test_jpy_with_decimals_is_refused():
    account = CashAccountFactory(currency="JPY")
    text = sample_text("mt940_jpy_2025-03.sta")
    text = text.replace("D3980,", "D3980,5").replace("JPY496020,", "JPY496019,5")
    text = text.replace("JPY296020,", "JPY296019,5")  # keep the balances consistent
    with pytest.raises(StatementLineError, match=r"Line 8: -3980.5 JPY has more than 0 decimals"):
        _import(account, text.encode())
    assert not account.transactions.exists()
