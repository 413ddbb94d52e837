"""CAMT.053 XML: Wise's camt.053.001.10 layout and a bank's camt.053.001.02; bad files refused."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.lines import StatementLineError
from accounts.selectors import balance_minor_on
from accounts.statements.services import statement_import
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import line_by, sample, sample_text, stored_state

pytestmark = pytest.mark.django_db

CASHBACK = "BALANCE_CASHBACK-510151a4-4ead-46c5-05ab-99b88521063c"


def _import(account, data: bytes, name: str = "statement.xml"):
    return statement_import(account=account, data=data, filename=name)


def test_wise_layout_imports_every_entry_with_exact_amounts():
    account = CashAccountFactory(currency="EUR")
    result = _import(account, sample("camt053_eur_2025-03.xml"))

    assert (result.format, result.created) == ("camt053", 6)
    assert (result.opening_balance, result.closing_balance) == (
        Decimal("1000.00"), Decimal("2389.69"),
    )  # fmt: skip
    conversion = line_by(account, "BALANCE-3300001")
    assert (conversion.amount_minor, conversion.fee_minor) == (-100000, 414)
    assert (conversion.counter_currency, conversion.counter_amount) == ("GBP", Decimal("835.62"))
    assert conversion.fx_rate == Decimal("0.8391")
    assert conversion.source == "CAMT053"
    abroad = line_by(account, "CARD-2200002")
    assert (abroad.amount, abroad.fee, abroad.counterparty) == (
        Decimal("-111.23"), Decimal("0.55"), "Figma",
    )  # fmt: skip
    deposit = line_by(account, "TRANSFER-1100001", "CREDIT")
    assert (deposit.counterparty, deposit.payment_reference) == ("Northwind GmbH", "INV-2025-0042")
    # Booked 00:59:59.999+01:00 on the 15th is the 14th in UTC, as the API dates it.
    cashback = line_by(account, CASHBACK, "CREDIT")
    assert cashback.booked_on == date(2025, 3, 14)
    assert cashback.raw["line"] == 71
    # No running balances in CAMT: the file's OPBD opens the account.
    account.refresh_from_db()
    assert account.opening_balance == Decimal("1000.00")
    assert balance_minor_on(account, date(2025, 3, 31)) == 238969


def test_version_02_with_jpy_and_a_pending_entry():
    account = CashAccountFactory(currency="JPY")
    result = _import(account, sample("camt053_jpy_2025-03.xml"))

    assert (result.created, result.pending_skipped) == (3, 1)
    deposit = line_by(account, "TRANSFER-1300001", "CREDIT")
    assert deposit.amount == Decimal("450000")
    assert (deposit.counterparty, deposit.payment_reference) == ("Kaito Trading KK", "請求書 118")
    conversion = line_by(account, "BALANCE-3300003")
    assert (conversion.amount_minor, conversion.fee_minor) == (-200000, 1460)
    assert (conversion.counter_currency, conversion.counter_amount) == ("EUR", Decimal("1219.23"))
    assert not account.transactions.filter(reference_number="CARD-2300002").exists()
    assert balance_minor_on(account, date(2025, 3, 31)) == 296020


BROKEN = [
    ("EUR", lambda t: t[: t.index("<Ntry>", 3000)] + "<Ntry>\n<Amt Ccy=\"EUR\">1",
     r"Line 88, column 17: the XML is not well-formed "
     r"\(Premature end of data in tag Amt line 88\)"),
    ("EUR", lambda t: t.replace('<Amt Ccy="EUR">2389.69</Amt>', '<Amt Ccy="EUR">2389.70</Amt>'),
     r"Line 29, column 13: the closing balance 2389.70 EUR is not the opening balance "
     r"1000.00 EUR plus the lines \(2389.69 EUR\)"),
    ("EUR", lambda t: t.replace('<Amt Ccy="EUR">111.23</Amt>', '<Amt Ccy="EUR">111,23</Amt>'),
     r"Line 142, column 17: the entry '111,23' is not a number"),
    ("GBP", lambda t: t,
     r"Line 71, column 13: currency EUR does not match the account's currency GBP"),
    ("EUR", lambda t: t.replace('<Amt Ccy="EUR">42.90</Amt>', '<Amt Ccy="QQQ">42.90</Amt>', 1),
     r"Line 87, column 13: Unknown currency code 'QQQ'"),
    ("EUR", lambda t: t.replace("<CdtDbtInd>DBIT</CdtDbtInd>\n                <Sts>", "<Sts>", 1),
     r"Line 103, column 13: the entry has no credit/debit indicator"),
    ("EUR", lambda t: t.replace("camt.053.001.10", "camt.052.001.10"),
     r"Line 2, column 1: this is a camt.052 message; only camt.053 account statements are "
     r"imported"),
    ("EUR", lambda t: t.replace("urn:iso:std:iso:20022:tech:xsd:camt.053.001.10", "urn:x"),
     r"Line 2, column 1: this XML is not an ISO 20022 camt.053 statement"),
    ("EUR", lambda t: t.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'),
     r"Line 1: the XML declares a DOCTYPE"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("currency", "mutate", "message"),
    BROKEN,
    ids=["truncated", "closing-mismatch", "bad-amount", "wrong-currency", "unknown-currency",
         "no-indicator", "camt052", "foreign-xml", "doctype"],
)  # fmt: skip
def test_a_bad_file_is_refused_whole_naming_the_line(currency, mutate, message):
    account = CashAccountFactory(currency=currency)
    before = stored_state(account)
    text = sample_text("camt053_eur_2025-03.xml")
    mutated = mutate(text)
    assert mutated != text or currency != "EUR"
    with pytest.raises(StatementLineError, match=message):
        _import(account, mutated.encode())
    assert stored_state(account) == before


def test_jpy_with_decimals_is_refused():
    account = CashAccountFactory(currency="JPY")
    text = sample_text("camt053_jpy_2025-03.xml").replace(">3980<", ">3980.5<")
    text = text.replace(">296020<", ">296019.5<")  # keep the balances consistent
    with pytest.raises(
        StatementLineError, match=r"Line 97, column 7: -3980.5 JPY has more than 0 decimals"
    ):
        _import(account, text.encode())
    assert not account.transactions.exists()


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = (
        sample_text("camt053_eur_2025-03.xml")
        .replace(
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>',
        )
        .replace("<AddtlNtryInf>Cashback", "<AddtlNtryInf>&x;Cashback")
    )
    account = CashAccountFactory(currency="EUR")
    with pytest.raises(StatementLineError, match="DOCTYPE"):
        _import(account, text.encode())
    assert not account.transactions.exists()
