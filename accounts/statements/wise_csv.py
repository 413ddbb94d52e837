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
from itertools import pairwise

from accounts.lines import StatementLine
from accounts.statements.common import (
    ParsedStatement,
    StatedBalance,
    StatementFileError,
    amount_parse,
    control_characters_refuse,
    text_decode,
    wise_type_for,
)
from treasury.money import (
    InexactAmountError,
    UnknownCurrencyError,
    currency_validate,
    is_exact,
    to_minor,
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
        if "field larger than field limit" in str(exc):
            raise StatementFileError(
                start, f"a field holds more than {csv.field_size_limit():,} characters; no "
                "statement field is that long",
            ) from exc  # fmt: skip
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


def _exact(amount: Decimal | None, currency: str, line_no: int) -> Decimal | None:
    """An amount finer than the currency allows is refused here, before the running
    balances are compared, so the message names what is wrong."""
    if amount is not None and not is_exact(amount, currency):
        try:
            to_minor(amount, currency)
        except InexactAmountError as exc:
            raise StatementFileError(line_no, str(exc)) from exc
    return amount


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
    try:
        currency = currency_validate(get("currency"))
    except UnknownCurrencyError as exc:
        raise StatementFileError(line_no, str(exc)) from exc
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
        amount=_exact(amount_parse(get("amount"), line_no=line_no), currency, line_no),
        currency=currency,
        fee=abs(fee) if fee is not None else Decimal(0),
        wise_type=get("transaction details type") or wise_type_for(reference),
        description=get("description"),
        counterparty=get("merchant") or get("payer name") or get("payee name"),
        reference_number=reference,
        payment_reference=get("payment reference"),
        running_balance=_exact(
            _optional_amount(get("running balance"), line_no, "running balance"), currency, line_no
        ),
        counter_currency=counter_currency,
        counter_amount=counter_amount,
        fx_rate=_optional_amount(get("exchange rate"), line_no, "exchange rate"),
        direction=direction if direction in ("CREDIT", "DEBIT") else None,
        raw={"file": FORMAT, "line": line_no, **dict(zip(header, row, strict=True))},
        line_no=line_no,
    )


def _booking_order(lines: list[StatementLine]) -> list[StatementLine]:
    """Oldest first (Wise lists newest first); rows of one instant in the order their
    running balances chain, which the clock cannot tell."""
    # Ties keep Wise's order read backwards: rows are listed newest first.
    order = sorted(range(len(lines)), key=lambda index: (lines[index].booked_at, -index))
    ordered = [lines[index] for index in order]
    result: list[StatementLine] = []
    index = 0
    while index < len(ordered):
        end = index
        while end < len(ordered) and ordered[end].booked_at == ordered[index].booked_at:
            end += 1
        result.extend(_chained(ordered[index:end], result[-1] if result else None))
        index = end
    return result


def _chained(group: list[StatementLine], before: StatementLine | None) -> list[StatementLine]:
    if len(group) == 1 or any(line.running_balance is None for line in group):
        return group
    left, chain = list(group), []
    balance = before.running_balance if before is not None else None
    while left:
        after = {line.running_balance for line in left}
        follows = [line for line in left if line.running_balance - line.amount == balance]
        starts = follows or [line for line in left
                             if line.running_balance - line.amount not in after]  # fmt: skip
        line = starts[0] if starts else left[0]
        chain.append(line)
        left.remove(line)
        balance = line.running_balance
    return chain


def _running_balances_check(ordered: list[StatementLine]) -> None:
    for before, line in pairwise(ordered):
        if before.running_balance is None or line.running_balance is None:
            continue
        expected = before.running_balance + line.amount
        if line.running_balance != expected:
            raise StatementFileError(
                line.line_no,
                f"the running balance {line.running_balance} is not the balance before it "
                f"({before.running_balance}, line {before.line_no}) plus the amount "
                f"{line.amount} ({expected}); the file is altered or a row is missing",
            )


def parse(data: bytes) -> list[ParsedStatement]:
    text = text_decode(data)
    control_characters_refuse(text)
    header, rows = _rows(text)
    columns = _header_check(header)
    lines = [_line(header, columns, line_no, row) for line_no, row in rows]
    if not lines:
        return []  # a period without activity: nothing to store, no balance stated
    for line in lines[1:]:
        if line.currency != lines[0].currency:
            raise StatementFileError(
                line.line_no,
                f"currency {line.currency}, but the rows above are in {lines[0].currency}; "
                "a Wise statement holds one balance",
            )
    ordered = _booking_order(lines)
    _running_balances_check(ordered)
    opening = closing = None
    if ordered and ordered[0].running_balance is not None:
        first = ordered[0]
        opening = StatedBalance(
            amount=first.running_balance - first.amount,
            on=first.booked_on,
            at=first.booked_at,
            line_no=first.line_no,
        )
    if ordered and ordered[-1].running_balance is not None:
        last = ordered[-1]
        closing = StatedBalance(amount=last.running_balance, on=last.booked_on,
                                at=last.booked_at, line_no=last.line_no)  # fmt: skip
    return [
        ParsedStatement(
            lines=lines,
            currency=lines[0].currency,
            opening=opening,
            closing=closing,
            timed="date time" in columns,
            line_no=lines[0].line_no,
        )
    ]
