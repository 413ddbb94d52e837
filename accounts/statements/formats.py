"""Which format a file is in, and parsing it whole before anything is stored."""

import re
from collections.abc import Callable
from pathlib import PurePath

from django.conf import settings

from accounts.models import Transaction
from accounts.statements import camt053, mt940, wise_csv
from accounts.statements.common import (
    ParsedStatement,
    StatementFileError,
    discriminators_assign,
    fees_fold,
)

CSV, CAMT053, MT940 = wise_csv.FORMAT, camt053.FORMAT, mt940.FORMAT
LABELS = {CSV: "Wise CSV", CAMT053: "CAMT.053 XML", MT940: "MT940"}
SOURCES = {
    CSV: Transaction.Source.CSV,
    CAMT053: Transaction.Source.CAMT053,
    MT940: Transaction.Source.MT940,
}
PARSERS: dict[str, Callable[[bytes], ParsedStatement]] = {
    CSV: wise_csv.parse,
    CAMT053: camt053.parse,
    MT940: mt940.parse,
}
EXTENSIONS = {".csv": CSV, ".xml": CAMT053, ".053": CAMT053, ".sta": MT940, ".mt940": MT940,
              ".940": MT940}  # fmt: skip
MT940_START = re.compile(rb"^\s*(\{1:|:20:)")
# 20 MiB holds years of daily activity in any of the three formats.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


def max_bytes() -> int:
    return int(getattr(settings, "STATEMENT_FILE_MAX_BYTES", DEFAULT_MAX_BYTES))


def _content_format(data: bytes) -> str | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return CAMT053
    if MT940_START.match(head):
        return MT940
    first_line = head.split(b"\n", 1)[0].lower()
    if b"transferwise id" in first_line or first_line.count(b",") + first_line.count(b";") >= 3:
        return CSV
    return None


def format_detect(data: bytes, filename: str = "") -> str | None:
    """The format the content shows (XML, SWIFT tags, a CSV header), else the extension's."""
    return _content_format(data) or EXTENSIONS.get(PurePath(filename).suffix.lower())


def statement_parse(
    *, data: bytes, filename: str = "", format: str | None = None
) -> ParsedStatement:
    """Every line of the file, keyed like the API's, or StatementFileError naming the line.

    Refuses an empty or oversized file, a format the content contradicts, and anything the
    format's parser refuses. `FEE-` lines fold into their payment and lines without a
    reference get a discriminator, so the natural keys match Wise's API and other files.
    """
    if not data.strip():
        raise StatementFileError(None, "the file is empty")
    if len(data) > max_bytes():
        raise StatementFileError(
            None, f"the file is {len(data):,} bytes; the limit is {max_bytes():,} bytes"
        )
    detected = _content_format(data)
    chosen = format or detected or format_detect(data, filename)
    if chosen not in PARSERS:
        raise StatementFileError(
            None,
            "the format cannot be recognised: expected a Wise CSV statement, CAMT.053 XML or MT940",
        )
    if b"\x00" in data:  # no format allows it, and PostgreSQL cannot store it in text
        raise StatementFileError(None, "the file holds NUL bytes, which no statement format has")
    if format and detected and detected != format:
        raise StatementFileError(
            None, f"this file looks like {LABELS[detected]}, not {LABELS[format]}"
        )
    parsed = PARSERS[chosen](data)
    lines = discriminators_assign(fees_fold(parsed.lines))
    return ParsedStatement(
        format=parsed.format,
        lines=lines,
        opening_balance=parsed.opening_balance,
        closing_balance=parsed.closing_balance,
        pending_skipped=parsed.pending_skipped,
    )
