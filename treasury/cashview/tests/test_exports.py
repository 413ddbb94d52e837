"""The accountant's exports: balances on a date and the lines of a period, CSV (streamed)
and XLSX, with native and converted amounts and the rate used on every line."""

import csv
import io
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line
from treasury.cashview.tests.data import accounts_make, history_bulk
from treasury.fx.tests.factories import ecb

pytestmark = pytest.mark.django_db
BALANCES = "/cash/export/balances/"
LINES = "/cash/export/transactions/"


@pytest.fixture
def books():
    """EUR and GBP balances in January 2025, rates on the first two Mondays only."""
    eur = CashAccountFactory(currency="EUR", name="EUR balance")
    gbp = CashAccountFactory(currency="GBP", name="GBP balance")
    CashAccountFactory(currency="JPY", name="JPY balance")  # nothing in it
    transactions_ingest(
        account=eur,
        lines=[
            line("1000.00", day=0, ref="e1"),  # 2025-01-06
            replace(line("-33.33", day=7, ref="e2"), description='=HYPERLINK("http://x")'),
            line("10.00", day=20, ref="e3"),  # 2025-01-26: no rate within 7 days
        ],
        source="API",
    )
    transactions_ingest(
        account=gbp, lines=[line("250.00", currency="GBP", day=1, ref="g1")], source="API"
    )
    ecb(date(2025, 1, 6), USD="1.0300", GBP="0.83000")
    ecb(date(2025, 1, 13), USD="1.0250", GBP="0.84100")
    return eur, gbp


def rows_of(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def filename(response) -> str:
    return response["Content-Disposition"].split('filename="')[1].rstrip('"')


def test_balances_as_of_a_date_with_the_rate_used(owner_client, books):
    response = owner_client.get(BALANCES, {"as_of": "2025-01-13", "base": "USD"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate()
    assert filename(response) == f"{today:%Y-%m-%d}_balances_2025-01-13.csv"
    rows = {row["account"]: row for row in rows_of(response)}
    eur = rows["EUR balance"]
    assert (eur["balance"], eur["currency"], eur["base_currency"]) == ("966.67", "EUR", "USD")
    assert (eur["converted"], eur["rate"]) == ("990.84", "1.025")  # 966.67 x 1.025
    assert (eur["rate_date"], eur["rate_source"], eur["via"]) == ("2025-01-13", "ECB", "")
    gbp = rows["GBP balance"]  # crossed through EUR: 1.025 / 0.841 USD per GBP
    assert gbp["rate"] == "1.21878715814507"  # to the 15 digits a spreadsheet keeps
    assert (gbp["converted"], gbp["via"]) == ("304.70", "EUR")
    assert rows["JPY balance"]["converted"] == "0.00"
    assert rows["JPY balance"]["note"] == "zero needs no rate"


def test_a_balance_without_a_rate_has_no_converted_amount(owner_client, books):
    rows = rows_of(owner_client.get(BALANCES, {"as_of": "2025-01-27"}))
    eur = next(row for row in rows if row["account"] == "EUR balance")
    assert (eur["balance"], eur["converted"], eur["rate"]) == ("976.67", "", "")
    assert eur["note"].startswith("no rate: No ECB rate for EUR→USD on 2025-01-27")


def test_lines_of_a_period_each_at_its_day_rate(owner_client, books):
    query = {"start": "2025-01-01", "end": "2025-01-31", "base": "USD", "policy": "then"}
    response = owner_client.get(LINES, query)
    assert filename(response) == (
        f"{timezone.localdate():%Y-%m-%d}_transactions_2025-01-01_2025-01-31.csv"
    )
    rows = rows_of(response)
    assert [(r["date"], r["amount"], r["currency"]) for r in rows] == [
        ("2025-01-06", "1000.00", "EUR"),
        ("2025-01-07", "250.00", "GBP"),
        ("2025-01-13", "-33.33", "EUR"),
        ("2025-01-26", "10.00", "EUR"),
    ]
    first, gbp, second, late = rows
    assert (first["converted"], first["rate"], first["rate_date"]) == (
        "1030.00",
        "1.03",
        "2025-01-06",
    )
    assert (gbp["converted"], gbp["rate_date"], gbp["via"]) == ("310.24", "2025-01-06", "EUR")
    assert (second["converted"], second["rate_date"]) == ("-34.16", "2025-01-13")
    assert (late["converted"], late["rate"]) == ("", "")
    assert late["note"].startswith("no rate:")
    # Text a spreadsheet would run as a formula is defused.
    assert second["description"] == '\'=HYPERLINK("http://x")'


def test_period_end_policy_uses_the_last_day_of_the_period(owner_client, books):
    query = {"start": "2025-01-01", "end": "2025-01-13", "policy": "end"}
    rows = rows_of(owner_client.get(LINES, query))
    assert {r["rate_date"] for r in rows} == {"2025-01-13"}
    assert rows[0]["converted"] == "1025.00"


def test_xlsx_holds_the_same_rows_as_the_csv(owner_client, books):
    query = {"start": "2025-01-01", "end": "2025-01-31", "base": "USD"}
    from_csv = rows_of(owner_client.get(LINES, query))
    response = owner_client.get(LINES, {**query, "format": "xlsx"})
    assert filename(response).endswith("_transactions_2025-01-01_2025-01-31.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book["Data"]
    header, *data = list(sheet.iter_rows(values_only=True))
    assert list(header) == list(from_csv[0])
    assert len(data) == len(from_csv)
    first = dict(zip(header, data[0], strict=True))
    assert (Decimal(str(first["amount"])), Decimal(str(first["converted"]))) == (1000, 1030)
    assert first["date"].date() == date(2025, 1, 6)
    assert sheet["F2"].number_format == "#,##0.00"
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Base currency"] == "USD"
    assert "Transaction date" in about["Rate-date policy"]


def test_balances_xlsx(owner_client, books):
    response = owner_client.get(BALANCES, {"as_of": "2025-01-13", "format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    values = {row[2]: row for row in book["Data"].iter_rows(min_row=2, values_only=True)}
    assert values["EUR balance"][6] == "from the lines 2025-01-13"
    assert Decimal(str(values["EUR balance"][8])) == Decimal("990.84")


def test_bad_input_is_named_and_nothing_is_sent(owner_client, books):
    wrong = owner_client.get(LINES, {"start": "2025-02-01", "end": "2025-01-01"})
    assert wrong.status_code == 400
    assert b"starts (2025-02-01) after it ends (2025-01-01)" in wrong.content
    assert owner_client.get(LINES, {"format": "pdf"}).status_code == 400
    assert b"Unknown currency code" in owner_client.get(BALANCES, {"base": "ZZZ"}).content


def test_the_accountant_downloads_both(accountant_client, books):
    assert accountant_client.get(BALANCES).status_code == 200
    assert accountant_client.get(LINES, {"format": "xlsx"}).status_code == 200


def test_a_big_period_streams(owner_client):
    today = timezone.localdate()
    accounts = accounts_make()
    history_bulk(accounts, lines=20_000, start=today - timedelta(days=400), end=today)
    response = owner_client.get(
        LINES, {"start": (today - timedelta(days=400)).isoformat(), "end": today.isoformat()}
    )
    chunks = iter(response.streaming_content)
    assert next(chunks).startswith(b"date,booked_at_utc,")  # the header goes out first
    assert sum(1 for _ in chunks) == 20_000
