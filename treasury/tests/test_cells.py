"""Every text cell of every CSV and XLSX export is inert (`treasury.cells`), whichever
column it is in: a Wise CSV's "Transaction Details Type" once reached the XLSX as a live
`=HYPERLINK(...)` formula."""

import csv
import io
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from django.urls import reverse

from accounts.models import Institution
from accounts.statements.services import statement_import
from accounts.tests.factories import CashAccountFactory
from treasury.cells import FORMULA_START, cell_defuse

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).parents[2] / "accounts/tests/data/statements/wise_eur_2025-03.csv"
NUMBER = re.compile(r"-?\d+(\.\d+)?")
EVIL = '=HYPERLINK("http://ev.il/","x")'  # fits the 40 characters of a Wise type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("Figma", "Figma"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_cell_defuse(text, expected):
    assert cell_defuse(text) == expected


def test_numbers_and_dates_are_not_text():
    from decimal import Decimal

    assert cell_defuse(Decimal("-12.50")) == Decimal("-12.50")
    assert cell_defuse(-3) == -3
    assert cell_defuse(date(2025, 1, 1)) == date(2025, 1, 1)


@pytest.fixture
def hostile_books():
    """A Wise CSV whose every text a bank or Wise fills starts like a formula."""
    institution = Institution.objects.create(name="@SUM(1+1)", kind=Institution.Kind.BANK)
    account = CashAccountFactory(currency="EUR", name="+cmd|' /C calc'!A0", institution=institution)
    rows = list(csv.reader(io.StringIO(SAMPLE.read_text())))
    header = rows[0]
    for row in rows[1:]:
        row[header.index("Transaction Details Type")] = EVIL
        row[header.index("Description")] = "-2+3"
        row[header.index("Payment Reference")] = "\t=1"
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerows(rows)
    result = statement_import(account=account, data=out.getvalue().encode(), filename="evil.csv")
    assert result.created > 0
    return account


def _text_cells(values):
    """Text cells, less the CSV's numbers ("-42.90" is a figure to a spreadsheet)."""
    return [v for v in values if isinstance(v, str) and v and not NUMBER.fullmatch(v)]


def _assert_inert(values):
    for value in _text_cells(values):
        assert value[0] not in FORMULA_START, value
        assert value.lstrip()[:1] not in FORMULA_START, value


@pytest.mark.parametrize("export", ["export_transactions", "export_balances"])
def test_csv_exports_defuse_every_text_cell(accountant_client, hostile_books, export):
    query = {"start": "2025-03-01", "end": "2025-03-31", "as_of": "2025-03-31"}
    response = accountant_client.get(reverse(f"cashview:{export}"), query)
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 1
    for row in rows[1:]:
        _assert_inert(row)
    if export == "export_transactions":
        assert f"'{EVIL}" in [r[rows[0].index("type")] for r in rows[1:]]


@pytest.mark.parametrize("export", ["export_transactions", "export_balances"])
def test_xlsx_exports_hold_no_formula(accountant_client, hostile_books, export):
    query = {"start": "2025-03-01", "end": "2025-03-31", "as_of": "2025-03-31", "format": "xlsx"}
    response = accountant_client.get(reverse(f"cashview:{export}"), query)
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert cells
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    _assert_inert(cell.value for cell in cells)
    # The figures stay figures: a negative amount is a number, not defused text.
    if export == "export_transactions":
        amounts = [row[5] for row in book["Data"].iter_rows(min_row=2, values_only=True)]
        assert any(isinstance(a, (int, float)) and a < 0 for a in amounts)
