"""Wise's CSV balance statement (Statements → one balance → CSV), one line per row.

Headers read (column names match ignoring case, spacing and order; comma or semicolon
separated; UTF-8 with or without a byte-order mark):

- current: "TransferWise ID","Date","Date Time","Amount","Currency","Description",
  "Payment Reference","Running Balance","Exchange From","Exchange To","Exchange Rate",
  "Payer Name","Payee Name","Payee Account Number","Merchant","Card Last Four Digits",
  "Card Holder Full Name","Attachment","Note","Total fees","Exchange To Amount",
  "Transaction Type","Transaction Details Type";
- older: the same without "Date Time", "Exchange To Amount", "Transaction Type" and
  "Transaction Details Type" (and, older still, without the card columns).

Only "TransferWise ID", "Date", "Amount" and "Currency" are required. `Amount` is signed
with the fees inside (the running balance moves by exactly `Amount`); "Total fees" is
their breakdown. Dates are Wise's `DD-MM-YYYY` (also `YYYY-MM-DD`, `DD/MM/YYYY`); times
are read as UTC. The Transactions page's "transaction history" export (`ID`, `Status`,
`Direction`, …) is a different file and is refused with a pointer to the statement.
"""

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

from accounts.lines import StatementLine
from accounts.statements.common import (
    ParsedStatement,
    StatementFileError,
    amount_parse,
    text_decode,
    wise_type_for,
)

FORMAT = "csv"
REQUIRED = ("TransferWise ID", "Date", "Amount", "Currency")
HISTORY_EXPORT = {"id", "status", "direction"}
DATE_FORMATS = ("%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y")
TIME_FORMATS = ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M")


def _column(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip()).lower()


def _datetime_parse(day: str, moment: str, line_no: int) -> datetime:
    """`Date Time` when the file has it, else `Date` at midnight, both in UTC."""
    if moment:
        day_part, _, time_part = moment.partition(" ")
        for day_format in DATE_FORMATS:
            for time_format in TIME_FORMATS:
                try:
                    return datetime.strptime(
                        f"{day_part} {time_part}", f"{day_format} {time_format}"
                    ).replace(tzinfo=UTC)
                except ValueError:
                    continue
        raise StatementFileError(line_no, f"the date and time {moment!r} is not a Wise date")
    for day_format in DATE_FORMATS:
        try:
            return datetime.strptime(day, day_format).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise StatementFileError(line_no, f"the date {day!r} is not a date like 31-01-2025")


def _rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and each non-blank row with the file line it starts on."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, [])
        start = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise StatementFileError(reader.line_num, f"the CSV is malformed ({exc})") from exc
    return header, rows


def _header_check(header: list[str]) -> list[str]:
    columns = [_column(name) for name in header]
    if set(columns) >= HISTORY_EXPORT and "transferwise id" not in columns:
        raise StatementFileError(
            1,
            "this is Wise's transaction-history export; import the balance statement "
            "instead (Wise → Statements → choose the balance → CSV)",
        )
    missing = [f'"{name}"' for name in REQUIRED if _column(name) not in columns]
    if missing:
        raise StatementFileError(
            1, "this is not a Wise statement CSV: the header lacks " + ", ".join(missing)
        )
    return columns


def _optional_amount(value: str, line_no: int, what: str) -> Decimal | None:
    return amount_parse(value, line_no=line_no, what=what) if value.strip() else None


def _line(header: list[str], columns: list[str], line_no: int, row: list[str]) -> StatementLine:
    if len(row) != len(columns):
        raise StatementFileError(
            line_no,
            f"{len(row)} fields where the header has {len(columns)} (is the file cut short?)",
        )
    cell = {name: value.strip() for name, value in zip(columns, row, strict=True)}

    def get(name: str) -> str:
        return cell.get(name, "")

    reference = get("transferwise id")
    currency = get("currency").upper()
    counter_currency, counter_amount = "", None
    if get("exchange to") and get("exchange to").upper() != currency:
        counter_currency = get("exchange to").upper()
        counter_amount = _optional_amount(get("exchange to amount"), line_no, "exchanged amount")
    elif get("exchange from") and get("exchange from").upper() != currency:
        counter_currency = get("exchange from").upper()
    direction = get("transaction type").upper()
    fee = _optional_amount(get("total fees"), line_no, "fee")
    return StatementLine(
        booked_at=_datetime_parse(get("date"), get("date time"), line_no),
        amount=amount_parse(get("amount"), line_no=line_no),
        currency=currency,
        fee=abs(fee) if fee is not None else Decimal(0),
        wise_type=get("transaction details type") or wise_type_for(reference),
        description=get("description"),
        counterparty=get("merchant") or get("payer name") or get("payee name"),
        reference_number=reference,
        payment_reference=get("payment reference"),
        running_balance=_optional_amount(get("running balance"), line_no, "running balance"),
        counter_currency=counter_currency,
        counter_amount=counter_amount,
        fx_rate=_optional_amount(get("exchange rate"), line_no, "exchange rate"),
        direction=direction if direction in ("CREDIT", "DEBIT") else None,
        raw={"file": FORMAT, "line": line_no, **dict(zip(header, row, strict=True))},
        line_no=line_no,
    )


def parse(data: bytes) -> ParsedStatement:
    header, rows = _rows(text_decode(data))
    columns = _header_check(header)
    lines = [_line(header, columns, line_no, row) for line_no, row in rows]
    return ParsedStatement(format=FORMAT, lines=lines)
