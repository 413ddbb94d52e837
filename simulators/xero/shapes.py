"""Xero's wire shapes the simulator speaks: Microsoft JSON dates, the `where` filter
subset Bulwark uses, and error bodies."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def ms_date(moment: datetime | date) -> str:
    """`/Date(1476316800000+0000)/` for a date (midnight UTC) or an aware datetime."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def parse_date(value: Any) -> date | None:
    """A date from `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` or `/Date(ms+0000)/`; None when bad."""
    if not isinstance(value, str):
        return None
    match = _MS_DATE.match(value)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).date()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_since(value: str | None) -> datetime | None:
    """The `If-Modified-Since` header: `2026-05-01T00:00:00` (UTC), fractions allowed."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", ""))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def validation_exception(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"Type": None, "Title": title, "Status": status, "Detail": detail}


NOT_FOUND = "The resource you're looking for cannot be found"


def post_data_invalid(message: str) -> dict[str, Any]:
    """ErrorNumber 14: a body Xero could not read into its objects."""
    return {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": message}


def api_exception_xml(
    number: int, kind: str, message: str, element_errors: tuple[str, ...] = ()
) -> str:
    """Xero's XML error body (`ApiException`), which it sends when it reads a request
    body as XML: the format it assumes when no JSON Content-Type says otherwise. A
    ValidationException lists its element's `ValidationErrors`."""
    elements = ""
    if element_errors:
        errors = "".join(
            f"<ValidationError><Message>{escape(m)}</Message></ValidationError>"
            for m in element_errors
        )
        elements = (
            f'<Elements><DataContractBase xsi:type="BankTransaction"><ValidationErrors>'
            f"{errors}</ValidationErrors></DataContractBase></Elements>"
        )
    return (
        '<ApiException xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<ErrorNumber>{number}</ErrorNumber><Type>{escape(kind)}</Type>"
        f"<Message>{escape(message)}</Message>{elements}</ApiException>"
    )


# --- the `where` filter ------------------------------------------------------------------
# Bulwark needs (and the simulator therefore understands) conjunctions and disjunctions of
# simple comparisons: `Type=="BANK" AND Status=="ACTIVE"`, `Reference=="bulwark:t1" OR
# Reference=="bulwark:t2"`, `BankAccount.AccountID=Guid("…")`, `Date>=DateTime(2026,05,01)`,
# `Reference.StartsWith("bulwark:")`. AND binds tighter than OR; no parentheses.

_ATOM = re.compile(
    r"^\s*(?P<field>[A-Za-z][\w.]*?)"
    r'(?:\.(?P<method>StartsWith|Contains|EndsWith)\("(?P<arg>[^"]*)"\)'
    r"|\s*(?P<op>==|!=|>=|<=|=|>|<)\s*(?P<value>.+?))\s*$"
)


def _split_outside_quotes(text: str, word: str) -> list[str]:
    parts, current, quoted, i = [], [], False, 0
    token = f" {word} "
    while i < len(text):
        char = text[i]
        if char == '"':
            quoted = not quoted
        if not quoted and text.startswith(token, i):
            parts.append("".join(current))
            current, i = [], i + len(token)
            continue
        current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    guid = re.match(r'^Guid\("([^"]+)"\)$', text)
    if guid:
        return guid.group(1).lower()
    moment = re.match(r"^DateTime\((\d+),\s*(\d+),\s*(\d+)\)$", text)
    if moment:
        return date(int(moment.group(1)), int(moment.group(2)), int(moment.group(3)))
    if text in ("true", "false"):
        return text == "true"
    try:
        return Decimal(text)
    except ArithmeticError as exc:
        raise ValueError(f"cannot read {text!r}") from exc


def _resolve(element: dict[str, Any], field: str) -> Any:
    value: Any = element
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str) and field.endswith("Date"):
        return parse_date(value)
    if isinstance(value, str) and field.endswith("ID"):
        return value.lower()
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("==", "="):
        return left == right
    if op == "!=":
        return left != right
    if left is None:
        return False
    return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[op]


def where_compile(where: str | None) -> Any:
    """A predicate over an element dict; ValueError names what cannot be read."""
    if not where or not where.strip():
        return lambda element: True
    alternatives = []
    for alternative in _split_outside_quotes(where.strip(), "OR"):
        atoms = []
        for text in _split_outside_quotes(alternative, "AND"):
            match = _ATOM.match(text)
            if not match:
                raise ValueError(f"cannot read the filter {text.strip()!r}")
            if match.group("method"):
                atoms.append((match.group("field"), match.group("method"), match.group("arg")))
            else:
                op, value = match.group("op"), _literal(match.group("value"))
                atoms.append((match.group("field"), op, value))
        alternatives.append(atoms)

    def predicate(element: dict[str, Any]) -> bool:
        return any(all(_atom_holds(element, *atom) for atom in atoms) for atoms in alternatives)

    return predicate


def _atom_holds(element: dict[str, Any], field: str, op: str, value: Any) -> bool:
    left = _resolve(element, field)
    if op == "StartsWith":
        return isinstance(left, str) and left.startswith(value)
    if op == "EndsWith":
        return isinstance(left, str) and left.endswith(value)
    if op == "Contains":
        return isinstance(left, str) and value in left
    if isinstance(left, (int, float, Decimal)) and not isinstance(left, bool):
        left = Decimal(str(left))
    return _compare(left, op, value)
