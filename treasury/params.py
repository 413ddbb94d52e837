"""Typed, bounded query parameters: how every view reads `request.GET`.

A view asks for what it needs by name, type and bounds (`param_int`, `param_ids`,
`param_date`, `param_choice`, `param_text`, `param_flag`) and gets a value it can use
unchecked: an int that fits a database column, a day whose neighbours exist, a string of
bounded length. A wrong value raises `BadParameter`, a `BadRequest` that Django answers
with the 400 page naming the parameter, unless the view passes `lenient=True` and
documents the default it falls back to. Forms use `DayField` for the same day bounds.

Nothing here reaches the database: bounds are the ones every backend and every later
step (date arithmetic, spreadsheets) can hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import BadRequest
from django.http import QueryDict

# Signed 64-bit: the widest integer column (BigAutoField) on SQLite and PostgreSQL.
DB_INT_MAX = 2**63 - 1
# No money Bulwark keeps predates 1970 (the ECB's first rate is 1999), and no plan runs
# past 2999; both leave room for the +/- a few years pages add to a day.
DAY_MIN = date(1970, 1, 1)
DAY_MAX = date(2999, 12, 31)
TEXT_MAX = 200
IDS_MAX = 50

T = TypeVar("T")


class BadParameter(BadRequest):
    """A query parameter the view cannot use: answered 400, with what was wrong."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name, self.problem = name, problem


def _raw(query: QueryDict, name: str) -> str | None:
    value = query.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _fail(name: str, problem: str, *, lenient: bool, default: T) -> T:
    if lenient:
        return default
    raise BadParameter(name, problem)


def int_parse(text: str, *, minimum: int = 0, maximum: int = DB_INT_MAX) -> int | None:
    """Plain decimal digits (an optional minus) within bounds, else None. No `1e3`, no
    `0x10`, no non-ASCII digits and no 4,300-digit strings are looked at."""
    digits = text[1:] if text[:1] == "-" else text
    if not digits or len(digits) > 19 or not (digits.isascii() and digits.isdigit()):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def param_int(
    query: QueryDict,
    name: str,
    *,
    default: int | None = None,
    minimum: int = 1,
    maximum: int = DB_INT_MAX,
    lenient: bool = False,
) -> int | None:
    raw = _raw(query, name)
    if raw is None:
        return default
    value = int_parse(raw, minimum=minimum, maximum=maximum)
    if value is None:
        return _fail(
            name, f"expected a whole number from {minimum} to {maximum}", lenient=lenient,
            default=default,
        )  # fmt: skip
    return value


def param_ids(
    query: QueryDict, name: str, *, limit: int = IDS_MAX, lenient: bool = False
) -> list[int]:
    """Every `name=<id>` given (database ids, at most `limit` of them), in order, once."""
    values = query.getlist(name)
    if len(values) > limit:
        if not lenient:
            raise BadParameter(name, f"at most {limit} values")
        values = values[:limit]
    ids: list[int] = []
    for raw in values:
        value = int_parse(raw.strip(), minimum=1)
        if value is None:
            if not lenient:
                raise BadParameter(name, "expected database ids (whole numbers from 1)")
            continue
        if value not in ids:
            ids.append(value)
    return ids


def day_check(value: date, *, earliest: date = DAY_MIN, latest: date = DAY_MAX) -> str | None:
    """Why `value` is out of bounds, or None."""
    if value < earliest:
        return (
            f"{value.isoformat()} is before {earliest.isoformat()}, the earliest day Bulwark keeps"
        )
    if value > latest:
        return f"{value.isoformat()} is after {latest.isoformat()}"
    return None


def param_date(
    query: QueryDict,
    name: str,
    *,
    default: date | None = None,
    earliest: date = DAY_MIN,
    latest: date = DAY_MAX,
    lenient: bool = False,
) -> date | None:
    """An ISO day (`YYYY-MM-DD`) within bounds."""
    raw = _raw(query, name)
    if raw is None:
        return default
    try:
        value = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None:
        return _fail(name, "expected a day as YYYY-MM-DD", lenient=lenient, default=default)
    problem = day_check(value, earliest=earliest, latest=latest)
    if problem:
        return _fail(name, problem, lenient=lenient, default=default)
    return value


def param_choice(
    query: QueryDict,
    name: str,
    choices: Iterable[str],
    *,
    default: str | None = None,
    lenient: bool = False,
    fold_case: bool = False,
) -> str | None:
    raw = _raw(query, name)
    if raw is None:
        return default
    allowed = list(choices)
    if fold_case:
        raw = raw.lower()
    if raw not in allowed:
        return _fail(
            name, f"expected one of {', '.join(allowed)}", lenient=lenient, default=default
        )
    return raw


def param_text(
    query: QueryDict, name: str, *, max_length: int = TEXT_MAX, default: str = ""
) -> str:
    """Free text, stripped and cut to `max_length` (what a page echoes back, bounded)."""
    raw = _raw(query, name)
    return default if raw is None else raw[:max_length]


def param_flag(query: QueryDict, name: str) -> bool:
    """`name=1` (or true/yes/on) is set; absent or anything else is not."""
    return (_raw(query, name) or "").lower() in {"1", "true", "yes", "on"}


class DayField(forms.DateField):
    """A form's day, refused outside `DAY_MIN`..`DAY_MAX` (or the bounds given)."""

    def __init__(self, *, earliest: date = DAY_MIN, latest: date = DAY_MAX, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earliest, self.latest = earliest, latest

    def clean(self, value: object) -> Any:
        day = super().clean(value)
        if day is not None:
            problem = day_check(day, earliest=self.earliest, latest=self.latest)
            if problem:
                raise forms.ValidationError(problem + ".")
        return day
