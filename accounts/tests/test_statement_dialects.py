"""MT940 and CAMT.053 as real banks ship them: header lines and bytes, envelopes, long
references, wrapped and structured `:86:`, several statements, every CAMT version."""

import logging
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError

from accounts.models import CashAccount, Transaction
from accounts.selectors import balance_minor_on
from accounts.statements.formats import format_detect
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import DATA, command, page_text, sample, sample_text, upload

pytestmark = pytest.mark.django_db
END = date(2025, 3, 31)


def _imported(name: str, currency: str, number: str) -> CashAccount:
    """`import_statement FILE --account ID` for the account holding `number`."""
    account = CashAccountFactory(currency=currency, account_number=number, wise_balance_id=None)
    command(str(DATA / name), "--account", str(account.pk))
    return account


def _line(account: CashAccount, amount: str) -> Transaction:
    return account.transactions.get(amount_minor=int(Decimal(amount) * 100))


@pytest.mark.parametrize(
    "name",
    ["mt940_rabobank.sta", "mt940_abnamro.sta", "mt940_bunq.sta", "mt940_ing_legacy.sta",
     "mt940_mbank.sta", "mt940_asn.sta", "mt940_sparkasse.sta", "mt940_ing_multi.sta",
     "camt053_multi_v02.xml"],
)  # fmt: skip
def test_each_bank_file_is_recognised_by_its_content(name):
    expected = "camt053" if name.endswith(".xml") else "mt940"
    assert format_detect(sample(name), "download.txt") == expected


def test_rabobank_940_header_structured_details_and_the_counter_iban_on_the_61():
    account = _imported("mt940_rabobank.sta", "EUR", "NL44RABO0123456789")
    paid = _line(account, "-25.00")
    # `/NAME/CONTRA ACCOUN` + `T HOLDER`: a full 65-character line continues the word
    assert (paid.counterparty, paid.payment_reference, paid.description) == (
        "CONTRA ACCOUNT HOLDER", "FACTUUR 1234", "FACTUUR 1234",
    )  # fmt: skip
    assert paid.raw["counterparty_account"] == "NL91ABNA0417164300"
    assert _line(account, "180.50").counterparty == "NORTHWIND TRADING B.V."
    assert balance_minor_on(account, END) == 115550


def test_abn_amro_header_before_each_statement_and_intermediate_balances():
    account = _imported("mt940_abnamro.sta", "EUR", "NL91ABNA0417164300")
    credit = _line(account, "750")
    assert (credit.counterparty, credit.payment_reference) == (
        "J. DE VRIES", "FACTUUR 2025-17 ONTWERP LOGO",
    )  # fmt: skip
    assert credit.raw["details"]["/IBAN/"] == "NL44RABO0123456789"
    assert _line(account, "-9").description.startswith("GIRO 428428 KPN - DIGITENNE")
    assert account.transactions.count() == 4  # two statements: :62M: then :60M:
    assert balance_minor_on(account, END) == 382421


def test_bunq_header_lines():
    account = _imported("mt940_bunq.sta", "EUR", "NL23BUNQ2025123456")
    coffee = account.transactions.get()
    assert (coffee.reference_number, coffee.counterparty) == ("BUNQ-8812734", "COFFEE COMPANY")
    assert balance_minor_on(account, END) == 41580


def test_legacy_ing_header_and_a_statement_summary_after_the_balances():
    account = _imported("mt940_ing_legacy.sta", "EUR", "0001234567")
    last = _line(account, "3.68")
    assert last.description == "0123456789 EJ46GREENP100610T1456 CLIEOP TMG GPHONGKONG AMSTERDAM"
    assert "D000001C" not in last.raw["86"]
    assert balance_minor_on(account, END) == 7865


def test_mbank_soh_and_etx_bytes_around_the_message():
    assert sample("mt940_mbank.sta").startswith(b"\x01\r\n")
    account = _imported("mt940_mbank.sta", "PLN", "PL64114020040000300201355387")
    transfer = account.transactions.get()
    assert "TYT.: FAKTURA 12/2025" in transfer.description
    assert balance_minor_on(account, END) == 88000


def test_asn_puts_an_18_character_iban_in_the_61():
    account = _imported("mt940_asn.sta", "EUR", "NL81ASNB0708271685")
    jewellery = account.transactions.get()
    assert (jewellery.amount, jewellery.counterparty) == (Decimal("-65.00"), "j de vries")
    assert jewellery.raw["counterparty_account"] == "NL91ABNA0417164300"
    assert jewellery.description == "NL91ABNA0417164300 j de vries Betaling sieraden"


def test_sparkasse_bank_code_account_german_subfields_and_wrapped_time():
    # `37040044/0532013000` is the IBAN DE89 3704 0044 0532 0130 00
    account = _imported("mt940_sparkasse.sta", "EUR", "DE89 3704 0044 0532 0130 00")
    credit = _line(account, "1250.00")
    assert credit.description == (
        "GUTSCHR. UEBERWEISUNG: Rechnung Nr. 2025-0042 vom 01.03.2025 Beratung"
    )
    assert (credit.counterparty, credit.payment_reference) == ("MUSTERMANN GMBH", "RE-2025-0042")
    assert credit.raw["details"]["gvc"] == "166"
    assert credit.raw["counterparty_account"] == "DE02120300000000202051"
    # its :86: wraps after `T11`, so a line starts `:25:30`: text, not the :25: tag
    card = _line(account, "-45.90")
    assert card.description == "KARTENZAHLUNG: KARTE 1234 2025-03-04T11:25:30 Debitk.1 2027-12"
    assert card.counterparty == "EDEKA MUELLER BERLIN"
    assert card.booked_on == date(2025, 3, 4)
    assert balance_minor_on(account, END) == 619920  # page 1 (:62M:) and page 2 (:60M:)


def test_ing_details_wrapped_onto_a_line_that_starts_like_a_tag(tmp_path):
    account = CashAccountFactory(currency="EUR", account_number="NL20INGB0001234567")
    first = sample_text("mt940_ing_multi.sta").split("-}")[1] + "-}"  # the second statement
    path = tmp_path / "ing.sta"
    path.write_text(first)
    command(str(path), "--account", str(account.pk))
    assert "\n:26:44 PAS 042/" in sample_text("mt940_ing_multi.sta").replace("\r\n", "\n")
    card = _line(account, "-42.50")
    assert card.description == "ALBERT HEIJN 1083 A 10:26:44 PAS 042"


def test_ing_counterparty_and_remittance_in_the_structured_details():
    account = CashAccountFactory(currency="EUR", account_number="NL20INGB0001234567")
    command(str(DATA / "mt940_ing_multi.sta"), "--create-accounts")
    invoice = _line(account, "1500.00")
    assert (invoice.counterparty, invoice.payment_reference) == (
        "Northwind Trading B.V.", "Invoice 2025-0311 consultancy March",
    )  # fmt: skip
    assert invoice.raw["details"]["/CNTP/"].startswith("NL91ABNA0417164300/ABNANL2A/")


def test_a_refused_field_is_bulwarks_message_and_the_parser_prints_nothing(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    account = CashAccountFactory(currency="EUR", account_number="NL23BUNQ2025123456")
    broken = DATA.parent / "broken.sta"
    try:
        broken.write_bytes(sample("mt940_bunq.sta").replace(b"D4,20NMSC", b"D4,2,0XMSC"))
        with pytest.raises(CommandError, match=r"Line 8: the :61: field cannot be read"):
            command(str(broken), "--account", str(account.pk))
    finally:
        broken.unlink()
    assert [r for r in caplog.records if r.name.startswith("mt940")] == []
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("version", ["02", "03", "04", "05", "06", "07", "08"])
def test_camt053_of_every_version_with_several_statements(owner_client, version):
    eur = CashAccountFactory(currency="EUR", account_number="DE89370400440532013000")
    chf = CashAccountFactory(currency="CHF", account_number="CH130483500000123456Z")
    text = sample_text("camt053_multi_v02.xml").replace(
        "camt.053.001.02", f"camt.053.001.{version}"
    )
    page = page_text(upload(owner_client, f"camt.053.001.{version}.xml", text.encode()))

    assert "imported into 2 accounts: 4 new lines" in page
    assert (balance_minor_on(eur, END), balance_minor_on(chf, END)) == (619920, 188005)
