"""One Wise statement transaction -> one StatementLine, for every shape Wise sends."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from accounts.lines import StatementLineError, natural_key
from accounts.wise.normalize import statement_line_from_wise, statement_lines_from_wise

# The example of wise.md §4 (a conversion, fee inside the amount).
CONVERSION = """{"type":"DEBIT","date":"2025-03-04T09:12:00Z",
 "amount":{"value":-500.00,"currency":"GBP"},
 "totalFees":{"value":2.10,"currency":"GBP"},
 "details":{"type":"CONVERSION","description":"Converted 500.00 GBP to 578.90 EUR",
 "sourceAmount":{"value":500.00,"currency":"GBP"},"targetAmount":{"value":578.90,"currency":"EUR"},
 "rate":1.1627},
 "runningBalance":{"value":1210.55,"currency":"GBP"},"referenceNumber":"BALANCE-123456"}"""

# The card example of the OpenAPI spec: abroad, with exchangeDetails.forAmount.
CARD_ABROAD = """{"type":"DEBIT","date":"2018-04-30T08:47:05.832Z",
 "amount":{"value":-7.76,"currency":"EUR"},
 "totalFees":{"value":0.04,"currency":"EUR"},"details":{"type":"CARD",
 "description":"Card transaction of 6.80 GBP issued by Tfl.gov.uk/cp TFL TRAVEL CH",
 "amount":{"value":6.8,"currency":"GBP"},"category":"Transportation Suburban and Loca",
 "merchant":{"name":"Tfl.gov.uk/cp","firstLine":null,"postCode":"SW1H 0TL","city":"TFL TRAVEL CH",
 "state":"","country":"GB","category":"Transportation Suburban and Loca"}},
 "exchangeDetails":{"forAmount":{"value":6.8,"currency":"GBP"},"rate":1.1413},
 "runningBalance":{"value":16.01,"currency":"EUR"},"referenceNumber":"CARD-249281"}"""


def _parse(text: str) -> dict:
    return json.loads(text, parse_float=Decimal)


def test_a_conversion_keeps_the_fee_inside_and_names_the_other_side():
    line = statement_line_from_wise(_parse(CONVERSION), line_no=3)
    assert line.booked_at == datetime(2025, 3, 4, 9, 12, tzinfo=UTC)
    assert (line.amount, line.currency, line.fee) == (Decimal("-500.00"), "GBP", Decimal("2.10"))
    assert (line.counter_currency, line.counter_amount) == ("EUR", Decimal("578.90"))
    assert line.fx_rate == Decimal("1.1627")
    assert line.running_balance == Decimal("1210.55")
    assert (line.wise_type, line.reference_number) == ("CONVERSION", "BALANCE-123456")
    assert line.resolved_direction == "DEBIT"
    assert line.line_no == 3
    assert line.raw["details"]["rate"] == Decimal("1.1627")


def test_the_target_side_of_a_conversion_counts_the_source():
    txn = _parse(CONVERSION)
    txn.update(type="CREDIT", amount={"value": Decimal("578.90"), "currency": "EUR"})
    line = statement_line_from_wise(txn)
    assert (line.counter_currency, line.counter_amount) == ("GBP", Decimal("500.00"))


def test_a_card_payment_abroad_from_the_spec():
    line = statement_line_from_wise(_parse(CARD_ABROAD))
    assert line.booked_at == datetime(2018, 4, 30, 8, 47, 5, 832000, tzinfo=UTC)
    assert (line.counter_currency, line.counter_amount) == ("GBP", Decimal("6.8"))
    assert line.fx_rate == Decimal("1.1413")
    assert line.counterparty == "Tfl.gov.uk/cp"
    assert line.fee == Decimal("0.04")


def test_the_live_exchange_details_shape_is_read_too():
    txn = _parse(CARD_ABROAD)
    txn["exchangeDetails"] = {
        "fromAmount": {"value": Decimal("7.72"), "currency": "EUR"},
        "toAmount": {"value": Decimal("6.8"), "currency": "GBP"},
        "rate": Decimal("0.8808"),
    }
    line = statement_line_from_wise(txn)
    assert (line.counter_currency, line.counter_amount, line.fx_rate) == (
        "GBP",
        Decimal("6.8"),
        Decimal("0.8808"),
    )


def test_a_deposit_names_its_sender_and_reference():
    txn = {
        "type": "CREDIT",
        "date": "2026-01-05T10:00:00.000Z",
        "amount": {"value": Decimal("1200.00"), "currency": "USD"},
        "totalFees": {"value": Decimal("0.00"), "currency": "USD"},
        "details": {
            "type": "DEPOSIT",
            "description": "Received money from Kestrel Labs",
            "senderName": "Kestrel Labs",
            "paymentReference": "INV-2026-0001",
        },
        "exchangeDetails": None,
        "runningBalance": {"value": Decimal("1200.00"), "currency": "USD"},
        "referenceNumber": "DEPOSIT-1",
    }
    line = statement_line_from_wise(txn)
    assert (line.counterparty, line.payment_reference) == ("Kestrel Labs", "INV-2026-0001")
    assert (line.counter_currency, line.counter_amount, line.fx_rate) == ("", None, None)


def test_the_natural_key_is_the_one_files_build():
    line = statement_line_from_wise(_parse(CONVERSION))
    key = natural_key(
        reference_number=line.reference_number,
        direction="DEBIT",
        booked_on=date(2025, 3, 4),
        amount_minor=-50000,
    )
    assert key == "BALANCE-123456|D|20250304|-50000"


def test_times_with_offsets_become_utc_days():
    txn = _parse(CONVERSION)
    txn["date"] = "2025-03-04T23:30:00-0200"
    assert statement_line_from_wise(txn).booked_on == date(2025, 3, 5)


def test_floats_are_refused():
    with pytest.raises(StatementLineError, match="parsed as Decimal"):
        statement_line_from_wise(json.loads(CONVERSION))


@pytest.mark.parametrize("broken", [{"date": "2025-01-01T00:00:00Z"}, {"amount": {"value": 1}}])
def test_a_transaction_without_date_or_amount_names_its_line(broken):
    with pytest.raises(StatementLineError, match="Line 4: unreadable"):
        statement_line_from_wise(broken, line_no=4)


def test_a_statement_comes_out_oldest_first():
    newer = _parse(CONVERSION)
    older = {**_parse(CONVERSION), "date": "2025-03-01T00:00:00Z", "referenceNumber": "BALANCE-1"}
    lines = statement_lines_from_wise({"transactions": [newer, older]})
    assert [line.reference_number for line in lines] == ["BALANCE-1", "BALANCE-123456"]
    assert [line.line_no for line in lines] == [2, 1]
