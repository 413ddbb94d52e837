"""The figures the law fixes: the FBAR line, the Form 8938 table, the due dates.

Sources (see /shared/reference part A): FinCEN's "Reporting maximum account value", the
FinCEN 114 instructions, and the Form 8938 instructions. Not tax advice; the owner's
settings say which row of the 8938 table applies.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# FinCEN 114 is required when the aggregate of the accounts' maximum values is MORE than
# this (exactly $10,000 is not). Whole dollars: every value is rounded up first.
FBAR_THRESHOLD_USD = 10_000

# The monitor warns at 80% (aggregate ≥ $8,000) and alerts at 100%, which means over the
# line (> $10,000): an alert at exactly $10,000 would announce a filing that is not due.
WARN_PERCENT = 80
FILE_PERCENT = 100
ALERT_PERCENTS = (WARN_PERCENT, FILE_PERCENT)

# With this many reportable accounts or more, FinCEN 114 takes only their number (item
# 14a), and the details are kept in the filer's records.
MANY_ACCOUNTS = 25


def warn_level_usd() -> int:
    return FBAR_THRESHOLD_USD * WARN_PERCENT // 100


def percent_reached(aggregate_usd: int) -> int | None:
    """The highest alert level the aggregate has reached (80 or 100), or None."""
    if aggregate_usd > FBAR_THRESHOLD_USD:
        return FILE_PERCENT
    if aggregate_usd >= warn_level_usd():
        return WARN_PERCENT
    return None


def fbar_due(year: int) -> tuple[date, date]:
    """FinCEN 114 for `year`: due April 15 of the next year, extended automatically (no
    request needed) to October 15. From reporting year 2016; June 30 before."""
    if year < 2016:
        return date(year + 1, 6, 30), date(year + 1, 6, 30)
    return date(year + 1, 4, 15), date(year + 1, 10, 15)


class FilingStatus:
    SINGLE = "SINGLE"
    MARRIED_SEPARATELY = "MFS"
    MARRIED_JOINTLY = "MFJ"
    CHOICES = (
        (SINGLE, "Single (or head of household)"),
        (MARRIED_SEPARATELY, "Married filing separately"),
        (MARRIED_JOINTLY, "Married filing jointly"),
    )


class Residence:
    US = "US"
    ABROAD = "ABROAD"
    CHOICES = (
        (US, "Living in the United States"),
        (ABROAD, "Living abroad (bona fide residence, or 330 days abroad in 12 months)"),
    )


@dataclass(frozen=True)
class Form8938Thresholds:
    year_end_usd: int  # required when the year-end value is more than this…
    any_time_usd: int  # …or the value at any time in the year is more than this


# Form 8938 instructions: married filing separately uses the unmarried figures.
FORM_8938_TABLE: dict[tuple[str, str], Form8938Thresholds] = {
    (Residence.US, FilingStatus.SINGLE): Form8938Thresholds(50_000, 75_000),
    (Residence.US, FilingStatus.MARRIED_SEPARATELY): Form8938Thresholds(50_000, 75_000),
    (Residence.US, FilingStatus.MARRIED_JOINTLY): Form8938Thresholds(100_000, 150_000),
    (Residence.ABROAD, FilingStatus.SINGLE): Form8938Thresholds(200_000, 300_000),
    (Residence.ABROAD, FilingStatus.MARRIED_SEPARATELY): Form8938Thresholds(200_000, 300_000),
    (Residence.ABROAD, FilingStatus.MARRIED_JOINTLY): Form8938Thresholds(400_000, 600_000),
}


def form_8938_thresholds(*, residence: str, filing_status: str) -> Form8938Thresholds:
    return FORM_8938_TABLE[(residence, filing_status)]


def headroom_usd(aggregate_usd: int) -> int:
    """Dollars left before filing is required (0 once over the line)."""
    return max(FBAR_THRESHOLD_USD - aggregate_usd, 0)


def percent_of_threshold(aggregate_usd: int) -> Decimal:
    return (Decimal(aggregate_usd) * 100 / FBAR_THRESHOLD_USD).quantize(Decimal("0.1"))
