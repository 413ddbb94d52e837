"""Deterministic, plausible Treasury Reporting Rates of Exchange, quarterly since 2001.

Each report (record date = quarter end) carries one row per country-currency in the
Treasury's own text (`Euro Zone-Euro`, `Japan-Yen`), foreign units per 1 USD, as a
string. The euro members' own rows repeat the Euro Zone rate. From April 2021 a
currency that moved 10% or more within the quarter gets an amendment row under the
same report with a later effective date (Argentina's peso every quarter, a few others
now and then), as the Treasury publishes them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from treasury.fx.calendar import quarter_ends
from treasury.fx.currencies import TREASURY_DESCRIPTIONS

FIRST_REPORT = date(2001, 3, 31)
AMENDMENTS_SINCE = date(2021, 4, 1)
D = Decimal

# Units per USD that each currency starts at and is pulled back to; quarterly drift in
# basis points for the ones that keep devaluing.
LEVELS: dict[str, Decimal] = {
    "AED": D("3.673"), "ARS": D("1.0"), "AUD": D("1.45"), "BDT": D("85.0"), "BGN": D("1.75"),
    "BHD": D("0.376"), "BRL": D("4.2"), "BWP": D("11.5"), "CAD": D("1.3"), "CHF": D("0.95"),
    "CLP": D("780.0"), "CNY": D("6.9"), "COP": D("3500.0"), "CRC": D("540.0"),
    "CZK": D("22.5"), "DKK": D("6.7"), "EGP": D("6.0"), "EUR": D("0.9"), "FJD": D("2.1"),
    "GBP": D("0.75"), "GEL": D("2.6"), "GHS": D("4.0"), "HKD": D("7.8"), "HRK": D("6.8"),
    "HUF": D("300.0"), "IDR": D("14500.0"), "ILS": D("3.6"), "INR": D("70.0"),
    "ISK": D("125.0"), "JOD": D("0.709"), "JPY": D("125.0"), "KES": D("110.0"),
    "KRW": D("1200.0"), "KWD": D("0.305"), "LKR": D("180.0"), "MAD": D("9.8"),
    "MXN": D("18.5"), "MYR": D("4.2"), "NGN": D("150.0"), "NOK": D("9.0"), "NPR": D("115.0"),
    "NZD": D("1.5"), "OMR": D("0.385"), "PEN": D("3.5"), "PHP": D("52.0"), "PKR": D("100.0"),
    "PLN": D("3.9"), "QAR": D("3.64"), "RON": D("4.1"), "RUB": D("65.0"), "SAR": D("3.75"),
    "SEK": D("9.5"), "SGD": D("1.38"), "THB": D("33.0"), "TRY": D("1.5"), "TWD": D("30.5"),
    "TZS": D("2100.0"), "UAH": D("8.0"), "UGX": D("3500.0"), "UYU": D("30.0"),
    "VND": D("21000.0"), "ZAR": D("13.5"), "ZMW": D("9.0"),
}  # fmt: skip
DRIFT_BP = {"ARS": 300, "TRY": 300, "EGP": 250, "NGN": 300, "UAH": 200, "GHS": 250}
AMENDED_EVERY_QUARTER = {"ARS"}
PEGGED = {"AED", "BHD", "HKD", "JOD", "OMR", "QAR", "SAR"}
EURO_MEMBERS = ("Austria-Euro", "Belgium-Euro", "France-Euro", "Germany-Euro", "Italy-Euro")
UNMAPPED = {"Afghanistan-Afghani": D("75.0"), "Cuba-Peso": D("24.0")}


@dataclass(frozen=True)
class Row:
    record_date: date
    effective_date: date
    country_currency_desc: str
    exchange_rate: str
    src_line_nbr: int

    @property
    def country(self) -> str:
        return self.country_currency_desc.rsplit("-", 1)[0]

    @property
    def currency(self) -> str:
        return self.country_currency_desc.rsplit("-", 1)[1]

    def as_json(self) -> dict[str, str]:
        """Every field as the API sends it: all strings."""
        day = self.record_date
        fiscal_year = day.year + (day.month >= 10)
        return {
            "record_date": f"{day:%Y-%m-%d}",
            "country": self.country,
            "currency": self.currency,
            "country_currency_desc": self.country_currency_desc,
            "exchange_rate": self.exchange_rate,
            "effective_date": f"{self.effective_date:%Y-%m-%d}",
            "src_line_nbr": str(self.src_line_nbr),
            "record_fiscal_year": str(fiscal_year),
            "record_fiscal_quarter": str((day.month + 2) // 3 % 4 + 1),
            "record_calendar_year": str(day.year),
            "record_calendar_quarter": str((day.month + 2) // 3),
            "record_calendar_month": f"{day.month:02d}",
            "record_calendar_day": f"{day.day:02d}",
        }


def treasury_text(value: Decimal) -> str:
    """The Treasury's style: 0.961, 151.65, 1585.0."""
    places = 3 if value < 10 else 2 if value < 1000 else 1
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def _walk(code: str, level: Decimal, reports: list[date], seed: int) -> dict[date, Decimal]:
    rng = random.Random(f"treasury:{seed}:{code}")
    value, values = level, {}
    drift = DRIFT_BP.get(code, 0)
    for report in reports:
        if code not in PEGGED:
            step = rng.randint(-300, 300) + rng.randint(-300, 300) + drift
            if not drift:
                step += (
                    -150 if value > level * D("1.3") else 150 if value < level * D("0.75") else 0
                )
            value = (value * (10000 + step) / 10000).quantize(D("1e-8"))
        values[report] = value
    return values


@lru_cache(maxsize=4)
def reports(seed: int, end: date) -> tuple[Row, ...]:
    """Every row published by `end`: the reports from 2001-03-31 to the last quarter end,
    and their amendments up to `end`."""
    dates = list(quarter_ends(FIRST_REPORT, end))
    texts = {**TREASURY_DESCRIPTIONS}
    walks = {code: _walk(code, LEVELS[code], dates, seed) for code in texts}
    walks.update({text: _walk(text, level, dates, seed) for text, level in UNMAPPED.items()})
    rng = random.Random(f"treasury:{seed}:amendments")
    carry: dict[str, Decimal] = {}  # an amended level persists into later reports
    rows: list[Row] = []
    for report in dates:
        line = 0
        entries = [(text, code) for code, text in texts.items()]
        entries += [(member, "EUR") for member in EURO_MEMBERS]
        entries += [(text, text) for text in UNMAPPED]
        for text, code in sorted(entries):
            value = walks[code][report] * carry.get(code, Decimal(1))
            line += 1
            rows.append(Row(report, report, text, treasury_text(value), line))
            # Drawn for every row, used or not, so a row's values never depend on `end`.
            roll, move, delay = rng.randint(1, 5), rng.randint(10, 35), rng.randint(20, 75)
            amended = code in AMENDED_EVERY_QUARTER or (code in DRIFT_BP and roll == 1)
            effective = report + timedelta(days=delay)
            if amended and report >= AMENDMENTS_SINCE:
                # A move of 10-35% within the quarter after the report: an amendment row.
                factor = Decimal(100 + move) / 100
                carry[code] = carry.get(code, Decimal(1)) * factor
                if effective <= end:
                    line += 1
                    rows.append(Row(report, effective, text, treasury_text(value * factor), line))
    return tuple(rows)
