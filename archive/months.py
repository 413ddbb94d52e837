"""Calendar months as their first day (`date(2026, 11, 1)`)."""

from __future__ import annotations

from datetime import date, timedelta


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_next(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_last_day(month: date) -> date:
    return month_next(month) - timedelta(days=1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from `first`'s to `last`'s, both included."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = month_next(month)
    return months


def month_previous(month: date) -> date:
    return month_start(month_start(month) - timedelta(days=1))
