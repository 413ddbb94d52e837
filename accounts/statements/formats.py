"""Which format a file is in, and parsing it whole, split by account, before anything is
stored."""

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import PurePath

from django.conf import settings

from accounts.lines import StatementLine
from accounts.models import Transaction
from accounts.statements import camt053, mt940, wise_csv
from accounts.statements.common import (
    FEE_PREFIX,
    ParsedStatement,
    StatedBalance,
    StatementFileError,
    discriminators_assign,
    fees_fold,
)
from accounts.statements.routing import AccountKey, FileAccount, identifier_normalize

CSV, CAMT053, MT940 = wise_csv.FORMAT, camt053.FORMAT, mt940.FORMAT
LABELS = {CSV: "Wise CSV", CAMT053: "CAMT.053 XML", MT940: "MT940"}
SOURCES = {
    CSV: Transaction.Source.CSV,
    CAMT053: Transaction.Source.CAMT053,
    MT940: Transaction.Source.MT940,
}
PARSERS: dict[str, Callable[[bytes], list[ParsedStatement]]] = {
    CSV: wise_csv.parse,
    CAMT053: camt053.parse,
    MT940: mt940.parse,
}
EXTENSIONS = {".csv": CSV, ".xml": CAMT053, ".053": CAMT053, ".sta": MT940, ".mt940": MT940,
              ".940": MT940}  # fmt: skip
# An MT940 shows itself within its first lines, whatever header a bank puts first.
MT940_TAGS = re.compile(rb"(?m)^[\x01\s]*:(?:20|25):.*$\s*^[\x01\s]*:(?:13D?|21|25|28C?|60[FM]?):")
MT940_START = re.compile(rb"^[\x01\s]*(?:\{1:|:20:|:940:)")
# 20 MiB holds years of daily activity in any of the three formats.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
NOT_STATEMENTS = (
    (b"%PDF-", "this is a PDF; import the statement as Wise CSV, CAMT.053 XML or MT940, "
               "which banks offer for accounting software"),
    (b"\x1f\x8b", "this file is compressed (gzip); decompress it and import the statement"),
    (b"{\\rtf", "this is a Word (RTF) document, not a statement file"),
)  # fmt: skip


def max_bytes() -> int:
    return int(getattr(settings, "STATEMENT_FILE_MAX_BYTES", DEFAULT_MAX_BYTES))


@dataclass(frozen=True)
class ParsedAccount:
    """Every statement of one account in a file, oldest first, each opening where the one
    before it closed; the lines keyed like the API's (fees folded, discriminators)."""

    key: AccountKey
    written: str  # the account's identifier as the file writes it
    statements: list[ParsedStatement]
    lines: list[StatementLine]

    @property
    def opening(self) -> StatedBalance | None:
        return self.statements[0].opening

    @property
    def closing(self) -> StatedBalance | None:
        return self.statements[-1].closing

    @property
    def timed(self) -> bool:
        return all(statement.timed for statement in self.statements if statement.lines)

    @property
    def bank(self) -> str:
        return next((s.bank for s in self.statements if s.bank), "")

    @property
    def first_day(self) -> date | None:
        return min((d for s in self.statements if (d := s.first_day)), default=None)

    @property
    def last_day(self) -> date | None:
        return max((d for s in self.statements if (d := s.last_day)), default=None)

    @property
    def line_no(self) -> int | None:
        return self.statements[0].line_no

    @property
    def pending_skipped(self) -> int:
        return sum(statement.pending_skipped for statement in self.statements)

    def described(self) -> FileAccount:
        return FileAccount(
            key=self.key, written=self.written, bank=self.bank, line_count=len(self.lines),
            first_day=self.first_day, last_day=self.last_day,
            closing=self.closing.amount if self.closing else None,
        )  # fmt: skip


@dataclass(frozen=True)
class ParsedFile:
    format: str
    accounts: list[ParsedAccount]

    @property
    def lines(self) -> list[StatementLine]:
        return [line for account in self.accounts for line in account.lines]

    @property
    def opening_balance(self) -> Decimal | None:
        first = self.accounts[0].opening if self.accounts else None
        return first.amount if first else None

    @property
    def closing_balance(self) -> Decimal | None:
        last = self.accounts[-1].closing if self.accounts else None
        return last.amount if last else None

    @property
    def pending_skipped(self) -> int:
        return sum(account.pending_skipped for account in self.accounts)


def _not_a_statement(data: bytes) -> str | None:
    """Why a file is no statement at all, when its first bytes say so."""
    for magic, reason in NOT_STATEMENTS:
        if data.startswith(magic):
            return reason
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()  # the directory only
    except (zipfile.BadZipFile, ValueError):
        return "this is a damaged ZIP archive"
    if any(name.startswith("xl/") for name in names):
        return "this is an Excel workbook; download the statement as CSV, CAMT.053 or MT940"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (
        f"this is a ZIP archive ({shown or 'empty'}); unzip it and import the statement "
        "files it holds"
    )


def _content_format(data: bytes) -> str | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return CAMT053
    if MT940_START.match(head) or MT940_TAGS.search(head):
        return MT940
    first_line = head.split(b"\n", 1)[0].lower()
    if b"transferwise id" in first_line or first_line.count(b",") + first_line.count(b";") >= 3:
        return CSV
    return None


def format_detect(data: bytes, filename: str = "") -> str | None:
    """The format the content shows (XML, SWIFT tags, a CSV header), else the extension's."""
    return _content_format(data) or EXTENSIONS.get(PurePath(filename).suffix.lower())


def _size_check(size: int) -> None:
    if size > max_bytes():
        raise StatementFileError(
            None, f"the file is {size:,} bytes; the limit is {max_bytes():,} bytes"
        )


def statement_parse(
    *, data: bytes, filename: str = "", format: str | None = None, size: int | None = None
) -> ParsedFile:
    """The file's statements split by account, or StatementFileError naming the line.

    Refuses an empty or oversized file (`size` when only part of a larger upload was
    read), what is no statement at all (a ZIP, a PDF), a format the content contradicts,
    and anything the format's parser refuses.
    """
    _size_check(len(data) if size is None else size)
    if not data.strip():
        raise StatementFileError(None, "the file is empty")
    reason = _not_a_statement(data)
    if reason:
        raise StatementFileError(None, reason)
    detected = _content_format(data)
    chosen = format or detected or format_detect(data, filename)
    if chosen not in PARSERS:
        raise StatementFileError(
            None,
            "the format cannot be recognised: expected a Wise CSV statement, CAMT.053 XML or MT940",
        )
    if format and detected and detected != format:
        raise StatementFileError(
            None, f"this file looks like {LABELS[detected]}, not {LABELS[format]}"
        )
    return ParsedFile(format=chosen, accounts=statements_by_account(PARSERS[chosen](data)))


def statements_by_account(statements: list[ParsedStatement]) -> list[ParsedAccount]:
    """The statements grouped by account (identifier and currency), in the order the file
    first names them; each account's statements oldest first and chained."""
    groups: dict[AccountKey, list[ParsedStatement]] = {}
    for statement in statements:
        key = AccountKey(identifier_normalize(statement.account_id), statement.currency)
        groups.setdefault(key, []).append(statement)
    accounts = []
    for key, found in groups.items():
        ordered = sorted(found, key=_statement_day)
        _chain_check(ordered)
        lines = [line for statement in ordered for line in statement.lines]
        accounts.append(
            ParsedAccount(key=key, written=ordered[0].account_id, statements=ordered,
                          lines=discriminators_assign(_fees_outside(fees_fold(lines), lines)))
        )  # fmt: skip
    return accounts


def _fees_outside(folded: list[StatementLine], lines: list[StatementLine]) -> list[StatementLine]:
    """In a file laid out with fee lines of their own (Wise's FLAT), a payment whose fee
    line is not in the file still has its amount without the fee."""
    if not any(line.reference_number.startswith(FEE_PREFIX) for line in lines):
        return folded
    return [
        replace(line, fee_outside=True)
        if line.fee and line.reference_number and "fee_line" not in line.raw
        and not line.reference_number.startswith(FEE_PREFIX) else line
        for line in folded
    ]  # fmt: skip


def _statement_day(statement: ParsedStatement) -> date:
    day = statement.opening.on if statement.opening else statement.first_day
    return day or date.min


def _chain_check(statements: list[ParsedStatement]) -> None:
    """Each statement of an account opens at the balance the one before it closed at."""
    for before, after in pairwise(statements):
        if before.closing is None or after.opening is None:
            continue
        if after.opening.amount != before.closing.amount:
            raise StatementFileError(
                after.opening.line_no,
                f"the statement opens at {after.opening.amount} {after.currency}, but the "
                f"statement before it for this account closed at {before.closing.amount} "
                f"{before.currency} (line {before.closing.line_no}); is a statement missing?",
                column=after.opening.column,
            )
