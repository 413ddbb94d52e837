"""What the demo tells: the business's habits, its bank account outside Wise, its rules,
the differences planted in the books, and the FBAR figures they add up to.

The FBAR story: the owner treats the Wise balances held abroad (EUR, GBP, JPY) and a
German current account as foreign financial accounts; the USD balance and the tax jar
are with Wise US Inc. and are not. Wise auto-converts client payments over a working
float to USD, so the foreign Wise balances close each day near that float (about $5,000
together). The German account carries the rest: a retainer parked there in the summer
of last year took the aggregate over $10,000; this year it stays lower, so the monitor
shows the 80% warning ("approaching") without crossing the line. Balances are fixed by
month relative to today's year, so the story holds whatever the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from treasury.fbar.services import ForeignAccountData

# Wise: the owner pays out, at each month's end, what the USD balance holds over this.
OWNER_FLOAT_USD = Decimal("25000")
DEFAULT_SIZE = 1800  # Wise statement lines over the whole span

GERMAN_ACCOUNT = ForeignAccountData(
    name="DKB Girokonto",
    institution_name="Deutsche Kreditbank AG",
    institution_address="Taubenstraße 7-9, 10117 Berlin, Germany",
    country="DE",
    account_number="DE02 1203 0000 0000 2020 51",
    account_type="BANK",
    currency="EUR",
    opened_on=None,
    closed_on=None,
)

# Month-end balances of the German account, in EUR, for the years two back, one back
# and this one (January → December). Last year's summer retainer is the peak.
GERMAN_MONTH_ENDS: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] = (
    (2100, 2250, 2400, 2380, 2600, 2750, 2900, 2880, 3050, 3100, 3150, 3200),
    (3250, 3300, 3420, 3500, 4800, 6300, 6150, 5200, 4100, 3200, 2900, 2750),
    (2700, 2680, 2720, 2800, 2850, 2900, 2880, 2840, 2800, 2760, 2740, 2720),
)


def german_month_ends(today: date) -> list[tuple[int, int, Decimal]]:
    """(year, month, balance) for every month that has ended by `today`."""
    rows = []
    for back, balances in zip((2, 1, 0), GERMAN_MONTH_ENDS, strict=True):
        year = today.year - back
        for month, balance in enumerate(balances, start=1):
            if (year, month) < (today.year, today.month):
                rows.append((year, month, Decimal(balance)))
    return rows


def fbar_filed_on(today: date) -> date | None:
    """When the owner filed last year's FinCEN 114: April 10, once this year's April 15
    due date is past (before it, the filing is still to do)."""
    due = date(today.year, 4, 15)
    return date(today.year, 4, 10) if today > due else None


# Wise balances the owner decides are foreign accounts (by currency and kind).
FOREIGN_WISE = {("EUR", "STANDARD"), ("GBP", "STANDARD"), ("JPY", "STANDARD")}


@dataclass(frozen=True)
class DemoRule:
    name: str
    match: str
    conditions: tuple[dict[str, Any], ...]
    actions: tuple[dict[str, Any], ...]


DEMO_RULES = (
    DemoRule(
        "Client payments → Sales (200)", "ALL",
        ({"field": "WISE_TYPE", "operator": "IS_ONE_OF", "value": "DEPOSIT"},
         {"field": "DIRECTION", "operator": "EQUALS", "value": "CREDIT"}),
        ({"kind": "ACCOUNT_CODE", "value": "200"},),
    ),
    DemoRule(
        "Software → Subscriptions (485)", "ANY",
        ({"field": "COUNTERPARTY", "operator": "REGEX",
          "value": r"adobe|figma|amazon web services"},),
        ({"kind": "ACCOUNT_CODE", "value": "485"},),
    ),
    DemoRule(
        "Travel abroad → Travel - International (494)", "ALL",
        ({"field": "WISE_TYPE", "operator": "IS_ONE_OF", "value": "CARD"},
         {"field": "COUNTERPARTY", "operator": "REGEX",
          "value": r"deutsche bahn|hotel adlon|jr east|tfl|sbb|delta air"}),
        ({"kind": "ACCOUNT_CODE", "value": "494"},),
    ),
    DemoRule(
        "Contractors → Consulting & Accounting (412)", "ANY",
        ({"field": "COUNTERPARTY", "operator": "REGEX",
          "value": r"lena fischer|marco bianchi|oliver hughes|sam rivera"},),
        ({"kind": "ACCOUNT_CODE", "value": "412"},),
    ),
    DemoRule(
        "Owner's draws and estimated tax → Owner A Drawings (880)", "ANY",
        ({"field": "COUNTERPARTY", "operator": "REGEX", "value": r"avery quinn|irs"},),
        ({"kind": "ACCOUNT_CODE", "value": "880"},),
    ),
)  # fmt: skip


# --- differences planted in the Xero simulator (fresh simulators only) ---------------------

NATIVE_FEED_CONTACT = "Wise (bank feed)"


@dataclass(frozen=True)
class Planted:
    """What the story changed in Xero, by Wise reference, for the summary and tests."""

    duplicate: str  # a line Wise's own feed posted again
    missing_fee: str  # a posted line amended to leave its fee out
    late: str  # a posted line re-dated later than Wise booked it


LATE_DAYS = 9  # beyond the reconciliation's near-miss reach of a week
