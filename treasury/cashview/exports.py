"""The accountant's files: balances on a date and the lines of a period, as CSV or XLSX,
with native and converted amounts and, on every line, the rate used (rate, its date, its
source, and the pivot when crossed). A line without a rate has empty converted columns
and says why: never a number.

Both are reads. CSV streams row by row (`StreamingHttpResponse` over a server-side
cursor), so a period of any size starts downloading at once in constant memory. XLSX is
written by openpyxl in write-only mode to an anonymous temporary file, which is sent and
then vanishes.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date
from decimal import Decimal
from functools import cache
from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from accounts.balances import Balance, accounts_with_balance, source_label
from accounts.models import CashAccount, Transaction
from treasury.cashview.selectors import ROUNDING, Choices, DayRates
from treasury.cells import row_defuse
from treasury.fx.convert import PRECISION, Conversion, RateBook, rate_display
from treasury.fx.policy import RateDatePolicy, policy_note, rate_date_for
from treasury.money import from_minor, minor_units, quantize

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 2000
RATE_DIGITS = 15  # of a crossed rate: as many as a spreadsheet keeps

# Every row ends with the conversion: amount in the base, the rate behind it, and why not.
RATE_HEADER = ["base_currency", "converted", "rate", "rate_date", "rate_source", "via", "note"]
BALANCE_HEADER = [
    *("as_of", "institution", "account", "account_kind", "currency", "balance"),
    "balance_source",
    *RATE_HEADER,
]
LINE_HEADER = [
    *("date", "booked_at_utc", "institution", "account", "currency", "amount", "fee"),
    *("direction", "type", "description", "counterparty", "reference", "payment_reference"),
    *RATE_HEADER,
    "line_id",
]
MONEY_COLUMNS = {"balance", "converted", "amount", "fee"}
DATE_COLUMNS = {"as_of", "date", "rate_date"}


def _rate_columns(
    conversion: Conversion | None, native: Decimal, base: str, missing: str
) -> list[Any]:
    """The RATE_HEADER columns of one amount."""
    if conversion is None:
        if not native:
            return [
                base,
                quantize(Decimal(0), base, ROUNDING),
                "",
                "",
                "",
                "",
                "zero needs no rate",
            ]
        return [base, "", "", "", "", "", f"no rate: {missing}"]
    converted = quantize(PRECISION.multiply(native, conversion.rate), base, ROUNDING)
    rate = Decimal(rate_display(conversion.rate, RATE_DIGITS))
    return [
        base,
        converted,
        rate,
        conversion.rate_date,
        conversion.source,
        conversion.via or "",
        "",
    ]


# --- balances ------------------------------------------------------------------------------


def balance_rows(*, choices: Choices) -> Iterator[list[Any]]:
    """One row per cash account with its balance at the end of the as-of day, as every
    page shows it, and where it comes from (two queries)."""
    accounts = accounts_with_balance(on=choices.as_of)
    day = choices.rate_day(choices.as_of)
    codes = {a.currency for a in accounts} | {choices.base}
    rates = DayRates([RateBook.load(source=choices.source, currencies=codes, on=day)], choices.base)
    for account in accounts:
        balance: Balance = account.balance  # type: ignore[attr-defined]
        native = balance.amount
        conversion = rates.get(account.currency, day)
        missing = str(rates.errors.get((account.currency, day), ""))
        yield [
            choices.as_of,
            account.institution.name,
            account.name,
            account.get_kind_display(),
            account.currency,
            native,
            _balance_source(balance),
            *_rate_columns(conversion, native, choices.base, missing),
        ]


def _balance_source(balance: Balance) -> str:
    """`entered by hand 2026-01-31`, `from the lines 2026-02-27`, `opening balance`."""
    label = source_label(balance.source)
    return f"{label} {balance.observed_on:%Y-%m-%d}" if balance.observed_on else label


# --- lines of a period ---------------------------------------------------------------------


def line_rows(
    *, choices: Choices, start: date, end: date, today: date | None = None
) -> Iterator[list[Any]]:
    """Every line booked from `start` to `end`, oldest first, converted under the policy
    with `end` as the period end (two queries, the lines read in chunks)."""
    today = today or choices.today
    codes = set(CashAccount.objects.order_by().values_list("currency", flat=True).distinct())
    codes.add(choices.base)
    if choices.policy == RateDatePolicy.TRANSACTION_DATE:
        book = RateBook.load(source=choices.source, currencies=codes, start=start, end=end)
    else:
        day = end if choices.policy == RateDatePolicy.PERIOD_END else today
        book = RateBook.load(source=choices.source, currencies=codes, on=day)
    rates = DayRates([book], choices.base)
    lines = (
        Transaction.objects.filter(booked_on__gte=start, booked_on__lte=end)
        .order_by("booked_on", "booked_at", "account_id", "seq")
        .values_list(
            "booked_on",
            "booked_at",
            "account__institution__name",
            "account__name",
            "currency",
            "amount_minor",
            "fee_minor",
            "direction",
            "wise_type",
            "description",
            "counterparty",
            "reference_number",
            "payment_reference",
            "pk",
        )
    )
    for row in lines.iterator(chunk_size=CHUNK):
        booked_on, booked_at, institution, account, code, *minor = row[:7]
        text, pk = row[7:-1], row[-1]  # direction ... payment reference, the line's id
        day = rate_date_for(choices.policy, transaction_date=booked_on, period_end=end, today=today)
        amount, fee = (from_minor(units, code) for units in minor)
        conversion = rates.get(code, day)  # before reading why not: the lookup records it
        missing = str(rates.errors.get((code, day), ""))
        yield [
            booked_on,
            booked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            *(institution, account, code, amount, fee),
            *text,
            *_rate_columns(conversion, amount, choices.base, missing),
            pk,
        ]


# --- files ---------------------------------------------------------------------------------


class _Echo:
    """A file-like that hands back what csv.writer writes, for streaming."""

    def write(self, value: str) -> str:
        return value


def _csv_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"  # never exponent notation
    return value


def _csv_lines(header: Sequence[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_csv_value(value) for value in row_defuse(row)])


def _xlsx_row(sheet: WriteOnlyWorksheet, row: list[Any], formats: dict[int, str]) -> list[Any]:
    cells: list[Any] = []
    for n, value in enumerate(row_defuse(row)):
        cell = WriteOnlyCell(sheet, value=value)
        if n in formats and value != "":
            cell.number_format = formats[n]
        elif isinstance(value, str):
            cell.data_type = "s"  # text, never a formula, whatever it starts with
        cells.append(cell)
    return cells


@cache
def _money_format(code: str) -> str:
    places = minor_units(code)
    return "#,##0" + ("." + "0" * places if places else "")


def _xlsx_file(
    header: Sequence[str], rows: Iterable[list[Any]], about: list[tuple[str, str]]
) -> Any:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Data")
    sheet.append(list(header))
    currency_at, base_at = header.index("currency"), header.index("base_currency")
    dates = {n: "yyyy-mm-dd" for n, name in enumerate(header) if name in DATE_COLUMNS}
    money = [
        (n, base_at if name == "converted" else currency_at)
        for n, name in enumerate(header)
        if name in MONEY_COLUMNS
    ]
    for row in rows:
        formats = dates | {n: _money_format(row[code_at]) for n, code_at in money}
        sheet.append(_xlsx_row(sheet, row, formats))
    notes = book.create_sheet("About")
    for pair in about:
        notes.append(_xlsx_row(notes, list(pair), {}))
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    book.save(handle)
    handle.seek(0)
    return handle


def _about(choices: Choices, what: str) -> list[tuple[str, str]]:
    note = policy_note(choices.policy, source=choices.source)
    generated = timezone.now().astimezone(UTC)
    return [
        ("Bulwark export", what),
        ("Base currency", choices.base),
        ("Rate-date policy", choices.policy.label),
        ("Rate source", note.source_label),
        ("How rates are chosen", note.text),
        ("Rounding", "Converted amounts: half-even at the base currency's minor unit."),
        ("Generated", generated.strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]


def _response(
    *,
    header: Sequence[str],
    rows: Iterable[list[Any]],
    fmt: str,
    name: str,
    about: list[tuple[str, str]],
) -> HttpResponse:
    if fmt == "csv":
        response: HttpResponse = StreamingHttpResponse(
            _csv_lines(header, rows), content_type=CSV_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    return FileResponse(
        _xlsx_file(header, rows, about),
        as_attachment=True,
        filename=f"{name}.xlsx",
        content_type=XLSX_TYPE,
    )


def balances_response(*, choices: Choices, fmt: str) -> HttpResponse:
    name = f"{choices.today:%Y-%m-%d}_balances_{choices.as_of:%Y-%m-%d}"
    what = f"Balances at the end of {choices.as_of:%Y-%m-%d}"
    return _response(
        header=BALANCE_HEADER,
        rows=balance_rows(choices=choices),
        fmt=fmt,
        name=name,
        about=_about(choices, what),
    )


def transactions_response(*, choices: Choices, start: date, end: date, fmt: str) -> HttpResponse:
    name = f"{choices.today:%Y-%m-%d}_transactions_{start:%Y-%m-%d}_{end:%Y-%m-%d}"
    what = f"Lines booked from {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    rows = line_rows(choices=choices, start=start, end=end)
    return _response(header=LINE_HEADER, rows=rows, fmt=fmt, name=name, about=_about(choices, what))
