"""`python manage.py fbar_report 2025`: the year's FBAR table, then its figures as JSON."""

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from treasury.fbar.reports import Worksheet
from treasury.fbar.selectors import AccountYear, FbarYear, dollars, fbar_year
from treasury.fx.convert import rate_display
from treasury.money import money_format


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--today {text!r} is not a date like 2026-02-03") from exc


def _row(row: AccountYear, *, whole: bool) -> list[str]:
    rate = row.rate
    if rate is None:
        priced = "NO RATE"
    elif rate.source == "IDENTITY":
        priced = "USD"
    else:
        flags = " estimate" if rate.is_estimate else ""
        priced = f"{rate_display(rate.per_usd)} {rate.rate_date:%Y-%m-%d} {rate.source}{flags}"
    return [
        row.account.name[:28],
        row.institution.name[:24],
        (row.account.account_number if whole else row.number_masked) or "-",
        row.account_type,
        money_format(row.max_amount, row.currency),
        f"{row.max_on:%Y-%m-%d}" if row.max_on else "-",
        "-" if row.max_usd is None else dollars(row.max_usd),
        priced,
        "foreign" if row.is_foreign else "not foreign",
    ]


HEADER = ["Account", "Institution", "Number", "Type", "Maximum", "On", "USD", "Rate", "FBAR"]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in [HEADER, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


def _figures(result: FbarYear) -> dict[str, Any]:
    form = result.form_8938
    return {
        "year": result.year,
        "as_of": f"{result.as_of:%Y-%m-%d}",
        "aggregate_usd": result.aggregate_usd,
        "filing_required": result.filing_required,
        "is_estimate": result.is_estimate,
        "is_complete": result.is_complete,
        "foreign_accounts": len(result.foreign),
        "crossed_on": f"{result.crossed_on:%Y-%m-%d}" if result.crossed_on else None,
        "due": f"{result.due:%Y-%m-%d}",
        "extended_due": f"{result.extended_due:%Y-%m-%d}",
        "missing_rates": sorted(result.missing_rates),
        "form_8938_status": form.status,
        # None while undetermined: an account without a rate could tip either way.
        "form_8938_required": form.required if form.determined else None,
        "form_8938_year_end_usd": form.year_end_usd,
        "form_8938_any_time_usd": form.any_time_usd,
    }


class Command(BaseCommand):
    help = (
        "Print a year's FBAR worksheet (every account, foreign ones counted) and, as the "
        "last line, its figures as JSON: aggregate_usd, filing_required and more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("year", type=int)
        parser.add_argument("--today", type=_date, help="Compute as on this day (default: today).")
        parser.add_argument(
            "--show-numbers", action="store_true", help="Print whole account numbers."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = options["today"] or timezone.localdate()
        year = options["year"]
        if not 2000 <= year <= today.year:
            raise CommandError(f"Year {year} is not between 2000 and {today.year}.")
        result = fbar_year(year=year, today=today)
        whole = options["show_numbers"]
        state = "estimate" if result.is_estimate else "final"
        self.stdout.write(f"FBAR {year}: balances up to {result.as_of:%Y-%m-%d} ({state})")
        for line in _table([_row(row, whole=whole) for row in result.accounts]):
            self.stdout.write(line)
        self.stdout.write("")
        for key, value in Worksheet(result=result, whole_numbers=whole).summary()[2:-1]:
            self.stdout.write(f"{key}: {value}")
        self.stdout.write(json.dumps(_figures(result)))
