"""ConnectWise `conditions` built from values, never from concatenated text.

A condition is a `Clause(field, op, value)`; `where(...)` joins clauses with `and`,
`AnyOf(...)` groups them with `or` in parentheses. Every value becomes a literal in
ConnectWise's syntax (developer guide, "Conditions"): strings in double quotes, integers
and Decimals bare, `True` / `False`, `null`, date-times in brackets as UTC
(`[2025-01-31T00:00:00Z]`), lists for `in` in parentheses. Field names are checked
against ConnectWise's form (`company/id`, `_info/lastUpdated`), operators against a list.

Strings: the guide documents no escape inside quotes; a double quote or a backslash is
written with a backslash (`\\"`, `\\\\`), the JSON escapes it lists for bodies. `*` is a
wildcard in ConnectWise's string comparisons and has no escape, so a value holding one
cannot be matched exactly and is refused, as are control characters (ConnectWise turns
newlines into spaces). A float is refused: amounts are Decimal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains", "in")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def literal(value: Any) -> str:
    """One value in ConnectWise's condition syntax; ValueError/TypeError when it has none."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number ConnectWise can compare")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time in a condition must be aware (UTC)")
        return value.astimezone(UTC).strftime("[%Y-%m-%dT%H:%M:%SZ]")
    if isinstance(value, date):
        return value.strftime("[%Y-%m-%dT00:00:00Z]")
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise ValueError("a string in a condition may not hold control characters")
        if "*" in value:
            raise ValueError("`*` is ConnectWise's wildcard and cannot be matched exactly")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"{type(value).__name__} has no ConnectWise literal (use Decimal, not float)")


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if not _FIELD.match(self.field):
            raise ValueError(f"{self.field!r} is not a ConnectWise field name")
        if self.op not in OPERATORS:
            raise ValueError(f"{self.op!r} is not one of {', '.join(OPERATORS)}")
        if self.op == "in" and (not isinstance(self.value, (list, tuple)) or not self.value):
            raise ValueError("`in` takes a non-empty list")
        if self.value is None and self.op not in ("=", "!="):
            raise ValueError("null compares only with = and !=")
        if self.op == "contains" and not isinstance(self.value, str):
            raise TypeError("`contains` takes a string")

    def text(self) -> str:
        if self.op == "in":
            return f"{self.field} in ({', '.join(literal(v) for v in self.value)})"
        return f"{self.field} {self.op} {literal(self.value)}"


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Clause | AnyOf, ...]

    def __init__(self, *parts: Clause | AnyOf) -> None:
        if not parts:
            raise ValueError("AnyOf needs at least one clause")
        object.__setattr__(self, "parts", parts)

    def text(self) -> str:
        return "(" + " or ".join(part.text() for part in self.parts) + ")"


def where(*parts: Clause | AnyOf | None) -> str | None:
    """The clauses joined with `and` (None ones skipped); None when there are none."""
    texts = [part.text() for part in parts if part is not None]
    return " and ".join(texts) if texts else None
