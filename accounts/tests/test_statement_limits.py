"""Bad input gets a clear refusal naming the line (and column), never a server error, a
rounding or a truncation; every refusal is recorded, an oversized file too."""

import io
import zipfile

import pytest
from django.core.management import CommandError

from accounts.models import SyncRun, Transaction
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import command, page_text, sample_text, upload

pytestmark = pytest.mark.django_db
CSV = sample_text("wise_eur_2025-03.csv")


def _refused(response) -> str:
    assert response.status_code == 200
    page = page_text(response)
    assert "Refused, nothing was stored." in page
    assert not Transaction.objects.exists()
    return page


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1e9999", "Line 7: the amount '1e9999' is not a number"),
        ("1" * 40, f"Line 7: the amount '{'1' * 40}' has 40 digits; at most 18 are read"),
        ("Infinity", "Line 7: the amount 'Infinity' is not a number"),
        ("2500.000000000000000000000000000001",
         "Line 7: the amount '2500.000000000000000000000000000001' has 34 digits"),
    ],
    ids=["exponent", "40-digits", "infinity", "beyond-28-digits"],
)  # fmt: skip
def test_amounts_out_of_range_are_refused_not_a_server_error(owner_client, amount, message):
    account = CashAccountFactory(currency="EUR")
    text = CSV.replace('"2500.00","EUR"', f'"{amount}","EUR"')
    assert message in _refused(upload(owner_client, "big.csv", text.encode(), account=account.pk))


def test_camt_amounts_out_of_range_are_refused(owner_client):
    account = CashAccountFactory(currency="EUR")
    text = sample_text("camt053_eur_2025-03.xml").replace(">0.92<", ">1E+9999<")
    page = _refused(upload(owner_client, "camt.xml", text.encode(), account=account.pk))
    assert "Line 72, column 17: the entry '1E+9999' is not a number" in page


def test_more_than_28_significant_digits_are_refused_not_rounded(tmp_path):
    account = CashAccountFactory(currency="USD")
    nines = "0." + "9" * 30
    text = CSV.replace('"EUR"', '"USD"').replace('"0.92","USD"', f'"{nines}","USD"')
    path = tmp_path / "usd.csv"
    path.write_text(text)
    with pytest.raises(CommandError, match=r"Line 2: the amount '0\.9+' has 30 digits"):
        command(str(path), "--account", str(account.pk))
    assert not account.transactions.exists()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"Cashback"', '"' + "x" * (5 * 1024 * 1024) + '"',
         "Line 2: a field holds more than 131,072 characters; no statement field is that long"),
        ('"Cashback"', '"' + "x" * 10_001 + '"',
         "Line 2: the description is 10,001 characters long; at most 10,000 are stored"),
        ('"Figma"', '"' + "F" * 301 + '"',
         "Line 5: the counterparty is 301 characters long; at most 300 are stored"),
        ('"INV-2025-0042"', '"' + "R" * 301 + '"',
         "Line 7: the payment reference is 301 characters long; at most 300 are stored"),
    ],
    ids=["description-5-mib", "description", "counterparty", "payment-reference"],
)  # fmt: skip
def test_text_beyond_its_length_is_refused_not_cut(owner_client, old, new, message):
    account = CashAccountFactory(currency="EUR")
    text = CSV.replace(old, new, 1)
    assert message in _refused(upload(owner_client, "long.csv", text.encode(), account=account.pk))


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("wise_eur_2025-03.csv", '"Cashback"', '"Cash\x00back"',
         "Line 2, column 114: the file holds a control character (0x00)"),
        ("mt940_bunq.sta", "COFFEE COMPANY/", "COFFEE\x1bCOMPANY/",
         "Line 9, column 37: the file holds a control character (0x1B)"),
        ("camt053_eur_2025-03.xml", "<AddtlNtryInf>Cashback", "<AddtlNtryInf>Cash&#x1;back",
         "Line 85, column 40: the XML is not well-formed"),
    ],
    ids=["csv-nul", "mt940-escape", "camt-character-reference"],
)  # fmt: skip
def test_control_characters_are_refused_naming_where(owner_client, name, old, new, message):
    account = CashAccountFactory(currency="EUR")
    text = sample_text(name)
    assert old in text
    page = _refused(upload(owner_client, name, text.replace(old, new).encode(), account=account.pk))
    assert message in page


def test_an_oversized_file_is_refused_and_recorded(owner_client, settings, tmp_path):
    settings.STATEMENT_FILE_MAX_BYTES = 1000
    account = CashAccountFactory(currency="EUR")
    page = _refused(upload(owner_client, "big.csv", CSV.encode(), account=account.pk))
    assert "the file is 1,704 bytes; the limit is 1,000 bytes" in page
    path = tmp_path / "big.csv"
    path.write_text(CSV)
    with pytest.raises(CommandError, match="the limit is 1,000 bytes"):
        command(str(path), "--account", str(account.pk))
    runs = SyncRun.objects.order_by("pk")
    assert [(run.status, run.label, run.detail["bytes"]) for run in runs] == [
        ("FAILED", "big.csv", 1704), ("FAILED", "big.csv", 1704),
    ]  # fmt: skip
    assert "the limit is 1,000 bytes" in runs[0].error


def test_errors_in_one_line_xml_name_the_column(owner_client):
    account = CashAccountFactory(currency="EUR")
    text = "".join(line.strip() for line in sample_text("camt053_eur_2025-03.xml").splitlines())
    text = text.replace('<Amt Ccy="EUR">111.23</Amt>', '<Amt Ccy="EUR">111,23</Amt>')
    column = text.index('<Amt Ccy="EUR">111,23') + 1
    page = _refused(upload(owner_client, "one-line.xml", text.encode(), account=account.pk))
    assert f"Line 1, column {column:,}: the entry '111,23' is not a number" in page


def test_an_archive_is_refused_saying_what_it_holds(owner_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("camt053_2025-03.xml", sample_text("camt053_multi_v02.xml"))
        archive.writestr("camt053_2025-04.xml", sample_text("camt053_multi_v02.xml"))
    page = _refused(upload(owner_client, "statements.zip", buffer.getvalue()))
    assert (
        "this is a ZIP archive (camt053_2025-03.xml, camt053_2025-04.xml); unzip it and "
        "import the statement files it holds"
    ) in page
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    page = _refused(upload(owner_client, "statement.xlsx", workbook.getvalue()))
    assert "this is an Excel workbook; download the statement as CSV" in page
