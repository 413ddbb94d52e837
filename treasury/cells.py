"""Cells of every CSV and XLSX export, made inert: one place all exports call.

Spreadsheet programs run a cell whose text starts like a formula (`=`, `+`, `-`, `@`,
or a tab or carriage return before one), and Excel also after leading spaces or with
the full-width forms. Any such text gets a leading apostrophe, which Excel, LibreOffice
and Google Sheets show as text and never evaluate (OWASP's advice for CSV injection).
Every text cell is treated so, whichever column it is in: a column thought safe today
(a Wise type, an institution's name) is filled from outside tomorrow. Numbers, dates and
Decimals are not text and pass through, so a negative amount stays a number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def cell_defuse(value: Any) -> Any:
    """`value`, or for text a version no spreadsheet runs as a formula."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in FORMULA_START or value.lstrip(" \u00a0\u3000")[:1] in FORMULA_START:
        return "'" + value
    return value


def row_defuse(row: Iterable[Any]) -> list[Any]:
    """Every text cell of a row made inert (see `cell_defuse`)."""
    return [cell_defuse(value) for value in row]
