"""One statement in every format keys the same: overlapping files add nothing twice.

The statements are Wise `statement.json` bodies (reference/wise.md §4), rendered to CSV,
CAMT.053 and MT940 by `simulators.wise.exports`, as the Wise simulator serves them.
"""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import mt940 as mt940_lib
import pytest
from lxml import etree

from accounts.lines import natural_key
from accounts.models import Transaction
from accounts.statements.formats import statement_parse
from accounts.statements.services import statement_import
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import sample
from simulators.wise.exports import (
    CSV_COLUMNS,
    statement_camt053,
    statement_csv,
    statement_mt940,
)
from treasury.money import to_minor

RENDERERS = {"csv": statement_csv, "camt053": statement_camt053, "mt940": statement_mt940}


def _money(value: str | int, currency: str) -> dict[str, Any]:
    return {"value": Decimal(value) if isinstance(value, str) else value, "currency": currency}


def _line(kind: str, when: str, value: str | int, currency: str, ref: str, *,
          fee: str | int = 0, running: str | int, **details: Any) -> dict[str, Any]:  # fmt: skip
    exchange = details.pop("exchange", None)
    return {
        "type": "DEBIT" if Decimal(value) < 0 else "CREDIT",
        "date": when,
        "amount": _money(value, currency),
        "totalFees": _money(fee, currency),
        "details": {"type": kind, **details},
        "exchangeDetails": exchange,
        "runningBalance": _money(running, currency),
        "referenceNumber": ref,
    }


def _statement(currency: str, lines: list[dict[str, Any]], closing: str | int,
               start: str = "2025-03-01", end: str = "2025-03-31") -> dict[str, Any]:  # fmt: skip
    return {
        "accountHolder": {"type": "BUSINESS", "businessName": "Hart & Co <Design>",
                          "address": {"city": "Portland", "countryName": "United States"}},
        "issuer": {"name": "Wise US Inc.", "city": "New York"},
        "bankDetails": None,
        "transactions": list(reversed(lines)),  # Wise lists newest first
        "endOfStatementBalance": _money(closing, currency),
        "query": {"intervalStart": f"{start}T00:00:00.000Z", "intervalEnd": f"{end}T23:59:59.999Z",
                  "currency": currency, "accountId": 5001},
    }  # fmt: skip


USD_LINES = [
    _line("DEPOSIT", "2025-03-03T10:15:22.481Z", "8500.00", "USD", "DEPOSIT-7001",
          running="9700.00", description="Received money from Globex Corp with reference "
          "INV-2025-0007", senderName="Globex Corp", paymentReference="INV-2025-0007"),
    _line("CARD", "2025-03-05T18:02:11.007Z", "-120.45", "USD", "CARD-8001", fee="1.12",
          running="9579.55", description="Card transaction of 16,500 JPY issued by Lawson TOKYO",
          amount=_money(16500, "JPY"), merchant={"name": "Lawson", "city": "Tokyo"},
          exchange={"forAmount": _money(16500, "JPY"), "rate": Decimal("138.2")}),
    _line("CONVERSION", "2025-03-10T09:00:00.000Z", "-1000.00", "USD", "BALANCE-9001",
          fee="5.02", running="8579.55", description="Converted 1000.00 USD to 917.12 EUR",
          sourceAmount=_money("1000.00", "USD"), targetAmount=_money("917.12", "EUR"),
          rate=Decimal("0.92163")),
    _line("TRANSFER", "2025-03-12T16:30:45.999Z", "-2004.10", "USD", "TRANSFER-6001",
          fee="4.10", running="6575.45", description="Sent money to Sam Rivera",
          recipient={"name": "Sam Rivera", "bankAccount": "•••• 0042"},
          paymentReference="Design work 12"),
    _line("TRANSFER", "2025-03-13T08:00:00.000Z", "2000.00", "USD", "TRANSFER-6001",
          running="8575.45", description="Refund of money sent to Sam Rivera",
          paymentReference="Design work 12"),
    _line("CARD", "2025-03-14T23:59:59.999Z", "120.45", "USD", "CARD-8001",
          running="8695.90", description="Card transaction refund: Lawson TOKYO"),
    _line("BALANCE_INTEREST", "2025-03-31T23:00:00.000Z", "0.00", "USD", "BALANCE-9002",
          running="8695.90", description="Interest earned"),
]  # fmt: skip
JPY_LINES = [
    _line("DEPOSIT", "2025-03-04T02:10:00.000Z", 450000, "JPY", "DEPOSIT-7002",
          running=500000, description="Received money from Kaito Trading KK",
          senderName="Kaito Trading KK", paymentReference="請求書 118"),
    _line("CONVERSION", "2025-03-08T07:00:00.000Z", -200000, "JPY", "BALANCE-9003", fee=1460,
          running=300000, description="Converted 200000 JPY to 1219.23 EUR",
          sourceAmount=_money(200000, "JPY"), targetAmount=_money("1219.23", "EUR"),
          rate=Decimal("0.006141")),
]  # fmt: skip
USD = _statement("USD", USD_LINES, "8695.90")
JPY = _statement("JPY", JPY_LINES, 300000)


def _expected_keys(statement: dict[str, Any]) -> set[str]:
    """The keys the Wise API's lines get: reference, type, UTC day, amount with fees."""
    currency = statement["query"]["currency"]
    return {
        natural_key(
            reference_number=line["referenceNumber"],
            direction=line["type"],
            booked_on=datetime.fromisoformat(line["date"]).astimezone(UTC).date(),
            amount_minor=to_minor(Decimal(line["amount"]["value"]), currency),
        )
        for line in statement["transactions"]
    }


def _parsed_keys(lines) -> set[str]:
    return {
        natural_key(
            reference_number=line.reference_number,
            direction=line.resolved_direction,
            booked_on=line.booked_on,
            amount_minor=to_minor(line.amount, line.currency),
            discriminator=line.key_discriminator,
        )
        for line in lines
    }


@pytest.mark.parametrize("statement", [USD, JPY], ids=["USD", "JPY"])
@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_every_format_keys_each_line_as_the_api_does(fmt, statement):
    parsed = statement_parse(data=RENDERERS[fmt](statement).encode(), filename="s")

    assert parsed.format == fmt
    assert _parsed_keys(parsed.lines) == _expected_keys(statement)
    currency = statement["query"]["currency"]
    assert {line.currency for line in parsed.lines} == {currency}
    if fmt != "csv":  # CSV has no stated balances; the others are checked on parse
        assert parsed.closing_balance == Decimal(statement["endOfStatementBalance"]["value"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("statement", "first", "then"),
    [(USD, "csv", ["camt053", "mt940"]), (JPY, "mt940", ["csv", "camt053"]),
     (USD, "camt053", ["mt940", "csv"])],
    ids=["csv-camt-mt940", "mt940-csv-camt", "camt-mt940-csv"],
)  # fmt: skip
def test_the_same_statement_in_another_format_adds_nothing(statement, first, then):
    currency = statement["query"]["currency"]
    account = CashAccountFactory(currency=currency)
    count = len(statement["transactions"])
    result = statement_import(account=account, data=RENDERERS[first](statement).encode(),
                              filename=f"statement.{first}")  # fmt: skip
    assert result.created == count
    for fmt in then:
        again = statement_import(account=account, data=RENDERERS[fmt](statement).encode(),
                                 filename=f"statement.{fmt}")  # fmt: skip
        assert (again.created, again.skipped) == (0, count), fmt
    assert set(account.transactions.values_list("natural_key", flat=True)) == _expected_keys(
        statement
    )


@pytest.mark.django_db
def test_overlapping_periods_store_each_line_once():
    account = CashAccountFactory(currency="USD")
    early = _statement("USD", USD_LINES[:4], USD_LINES[3]["runningBalance"]["value"],
                       end="2025-03-12")  # fmt: skip
    late = _statement("USD", USD_LINES[2:], "8695.90", start="2025-03-10")

    first = statement_import(account=account, data=statement_csv(early).encode(), filename="a")
    second = statement_import(account=account, data=statement_camt053(late).encode(), filename="b")

    assert (first.created, second.created, second.skipped) == (4, 3, 2)
    assert account.transactions.count() == len(USD_LINES)
    account.refresh_from_db()
    assert account.opening_balance == Decimal("1200.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("currency", "files"),
    [("EUR", ["wise_eur_2025-03.csv", "camt053_eur_2025-03.xml", "mt940_eur_2025-03.sta"]),
     ("JPY", ["mt940_jpy_2025-03.sta", "camt053_jpy_2025-03.xml", "wise_jpy_2025-03.csv"])],
)  # fmt: skip
def test_wise_files_of_one_period_in_three_formats_store_each_line_once(currency, files):
    account = CashAccountFactory(currency=currency)
    results = [
        statement_import(account=account, data=sample(name), filename=name) for name in files
    ]
    assert [r.created for r in results] == [results[0].lines, 0, 0]
    assert Transaction.objects.filter(account=account).count() == results[0].lines


def test_the_csv_has_wise_columns_and_newest_first():
    rows = list(csv.reader(io.StringIO(statement_csv(USD))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[0] for row in rows[1:]][:2] == ["BALANCE-9002", "CARD-8001"]
    card = next(row for row in rows[1:] if row[0] == "CARD-8001" and row[3].startswith("-"))
    record = dict(zip(rows[0], card, strict=True))
    assert (record["Date"], record["Date Time"]) == ("05-03-2025", "05-03-2025 18:02:11.007")
    assert (record["Amount"], record["Total fees"]) == ("-120.45", "1.12")
    assert (record["Exchange From"], record["Exchange To"], record["Exchange To Amount"]) == (
        "USD", "JPY", "16500",
    )  # fmt: skip
    assert (record["Merchant"], record["Transaction Type"]) == ("Lawson", "DEBIT")


def test_the_camt053_is_well_formed_iso_20022_with_consistent_totals():
    root = etree.fromstring(statement_camt053(USD).encode())
    ns = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.10"}
    assert root.tag == "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.10}Document"
    assert root.xpath("//c:Acct/c:Ownr/c:Nm/text()", namespaces=ns) == ["Hart & Co <Design>"]
    assert root.xpath("//c:TtlNtries/c:NbOfNtries/text()", namespaces=ns) == ["7"]
    assert root.xpath("//c:TtlNetNtry/c:Amt/text()", namespaces=ns) == ["7495.90"]
    assert root.xpath("//c:Bal[c:Tp/c:CdOrPrtry/c:Cd='OPBD']/c:Amt/text()", namespaces=ns) == [
        "1200.00"
    ]


def test_the_mt940_parses_with_the_mt940_package_alone():
    statement = mt940_lib.parse(statement_mt940(JPY))
    assert str(statement.data["final_opening_balance"].amount) == "50000 JPY"
    assert [t.data["amount"].amount for t in statement] == [Decimal(450000), Decimal(-200000)]
    assert statement[1].data["extra_details"] == "BALANCE-9003"


def test_an_amount_finer_than_the_currency_is_a_bug_not_rounded():
    bad = _statement("JPY", [_line("CARD", "2025-03-05T00:00:00Z", "-10.5", "JPY", "CARD-1",
                                   running="-10.5")], "-10.5")  # fmt: skip
    for render in RENDERERS.values():
        with pytest.raises(ValueError, match="more than 0 decimals"):
            render(bad)
