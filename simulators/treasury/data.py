"""Deterministic Treasury Reporting Rates of Exchange, quarterly since 2001, as the
Treasury publishes them.

Each report (record date = quarter end) carries one row per country-currency in the
Treasury's own `country_currency_desc` text, foreign units per 1 USD, as a string, at
the rates of the last business day of the month before (the report of December 31 has
November 30's rates). The texts are the Treasury's, with their history (`LABELS`): a
currency renamed keeps its old text up to its last report ("Bulgaria-Lev", then
"Bulgaria-Lev New"), and a redenominated one carries its old units until then
("Turkey-Lira" at some 1.4 million to the dollar to December 2004, then
"Turkey-New Lira"; "Ghana-Cedi" in old cedis to June 2007 and new ones after, under one
text). This table is the simulator's own: Bulwark's mapping is tested against it.

The levels follow the ECB simulator of the same seed: a currency the ECB quotes is its
reference rate crossed through the dollar, within a spread of ±0.75% (the rates at which
disbursing officers buy, not the 14:15 fix). The others walk from a realistic level. The
euro members' own rows repeat the Euro Zone rate. From April 2021 a currency that moved
10% or more within the quarter gets an amendment row under the same report with a later
effective date (Argentina's peso every quarter, a few others now and then).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from simulators.ecb.data import usd_rates
from treasury.fx.calendar import quarter_ends

FIRST_REPORT = date(2001, 3, 31)
AMENDMENTS_SINCE = date(2021, 4, 1)
D = Decimal

# Units per USD that currencies the ECB does not quote start at and are pulled back to
# (today's units); quarterly drift in basis points for the ones that keep devaluing.
LEVELS: dict[str, Decimal] = {
    "AED": D("3.673"), "ARS": D("1.0"), "BDT": D("85.0"), "BHD": D("0.376"),
    "BWP": D("11.5"), "CLP": D("780.0"), "COP": D("3500.0"), "CRC": D("540.0"),
    "EGP": D("6.0"), "FJD": D("2.1"), "GEL": D("2.6"), "GHS": D("4.0"), "JOD": D("0.709"),
    "KES": D("110.0"), "KWD": D("0.305"), "LKR": D("180.0"), "MAD": D("9.8"),
    "NGN": D("150.0"), "NPR": D("115.0"), "OMR": D("0.385"), "PEN": D("3.5"),
    "PKR": D("100.0"), "QAR": D("3.64"), "RUB": D("65.0"), "SAR": D("3.75"),
    "TWD": D("30.5"), "TZS": D("2100.0"), "UAH": D("8.0"), "UGX": D("3500.0"),
    "UYU": D("30.0"), "VND": D("21000.0"), "ZMW": D("9.0"),
    # Quoted by the ECB, but not on every day since 2001 (BRL from 2008, ILS from 2011,
    # ISK not from December 2008 to 2017, ...): their level where the ECB has none.
    "BRL": D("4.2"), "CNY": D("6.9"), "IDR": D("14500.0"), "ILS": D("3.6"), "INR": D("70.0"),
    "ISK": D("125.0"), "MXN": D("18.5"), "MYR": D("4.2"), "PHP": D("52.0"), "THB": D("33.0"),
    "TRY": D("1.5"), "RON": D("4.1"), "HRK": D("6.8"),
}  # fmt: skip
DRIFT_BP = {"ARS": 300, "TRY": 300, "EGP": 250, "NGN": 300, "UAH": 200, "GHS": 250}
AMENDED_EVERY_QUARTER = {"ARS"}
PEGGED = {"AED", "BHD", "HKD", "JOD", "OMR", "QAR", "SAR"}
SPREAD_BP = 75  # at most, either way from the ECB's crossed rate
EURO_MEMBERS = ("Austria-Euro", "Belgium-Euro", "France-Euro", "Germany-Euro", "Italy-Euro")
UNMAPPED = {"Afghanistan-Afghani": D("75.0"), "Cuba-Peso": D("24.0")}
# The ECB's series of a redenominated currency's old unit, where it has one.
ECB_OLD_UNITS = {"TRY": "TRL", "RON": "ROL"}


@dataclass(frozen=True)
class Label:
    text: str
    until: date | None  # its last report (None: still in use)
    units: int = 1  # units of the currency it carried per today's unit


def _current(text: str) -> list[Label]:
    return [Label(text, None)]


# Each currency's texts, oldest first; each applies after the previous one's last
# report. Redenominations: TRL -> TRY 2005-01-01 (1,000,000:1), ROL -> RON 2005-07-01
# (10,000:1), GHC -> GHS 2007-07-01 (10,000:1), ZMK -> ZMW 2013-01-01 (1,000:1). The
# renames' dates for "Bulgaria-Lev" and "Peru-Nuevo Sol" are the simulator's choice
# (the Treasury's own are not in the stored copies); the texts and units are its.
LABELS: dict[str, list[Label]] = {
    "AED": _current("United Arab Emirates-Dirham"),
    "ARS": _current("Argentina-Peso"),
    "AUD": _current("Australia-Dollar"),
    "BDT": _current("Bangladesh-Taka"),
    "BGN": [Label("Bulgaria-Lev", date(2007, 12, 31)), Label("Bulgaria-Lev New", None)],
    "BHD": _current("Bahrain-Dinar"),
    "BRL": _current("Brazil-Real"),
    "BWP": _current("Botswana-Pula"),
    "CAD": _current("Canada-Dollar"),
    "CHF": _current("Switzerland-Franc"),
    "CLP": _current("Chile-Peso"),
    "CNY": _current("China-Renminbi"),
    "COP": _current("Colombia-Peso"),
    "CRC": _current("Costa Rica-Colon"),
    "CZK": _current("Czech Republic-Koruna"),
    "DKK": _current("Denmark-Krone"),
    "EGP": _current("Egypt-Pound"),
    "EUR": _current("Euro Zone-Euro"),
    "FJD": _current("Fiji-Dollar"),
    "GBP": _current("United Kingdom-Pound"),
    "GEL": _current("Georgia-Lari"),
    "GHS": [Label("Ghana-Cedi", date(2007, 6, 30), 10_000), Label("Ghana-Cedi", None)],
    "HKD": _current("Hong Kong-Dollar"),
    "HRK": [Label("Croatia-Kuna", date(2022, 12, 31))],  # then a euro member
    "HUF": _current("Hungary-Forint"),
    "IDR": _current("Indonesia-Rupiah"),
    "ILS": _current("Israel-Shekel"),
    "INR": _current("India-Rupee"),
    "ISK": _current("Iceland-Krona"),
    "JOD": _current("Jordan-Dinar"),
    "JPY": _current("Japan-Yen"),
    "KES": _current("Kenya-Shilling"),
    "KRW": _current("Korea-Won"),
    "KWD": _current("Kuwait-Dinar"),
    "LKR": _current("Sri Lanka-Rupee"),
    "MAD": _current("Morocco-Dirham"),
    "MXN": _current("Mexico-Peso"),
    "MYR": _current("Malaysia-Ringgit"),
    "NGN": _current("Nigeria-Naira"),
    "NOK": _current("Norway-Krone"),
    "NPR": _current("Nepal-Rupee"),
    "NZD": _current("New Zealand-Dollar"),
    "OMR": _current("Oman-Rial"),
    "PEN": [Label("Peru-Nuevo Sol", date(2015, 12, 31)), Label("Peru-Sol", None)],
    "PHP": _current("Philippines-Peso"),
    "PKR": _current("Pakistan-Rupee"),
    "PLN": _current("Poland-Zloty"),
    "QAR": _current("Qatar-Riyal"),
    "RON": [Label("Romania-Leu", date(2005, 6, 30), 10_000), Label("Romania-New Leu", None)],
    "RUB": _current("Russia-Ruble"),
    "SAR": _current("Saudi Arabia-Riyal"),
    "SEK": _current("Sweden-Krona"),
    "SGD": _current("Singapore-Dollar"),
    "THB": _current("Thailand-Baht"),
    "TRY": [Label("Turkey-Lira", date(2004, 12, 31), 1_000_000), Label("Turkey-New Lira", None)],
    "TWD": _current("Taiwan-Dollar"),
    "TZS": _current("Tanzania-Shilling"),
    "UAH": _current("Ukraine-Hryvnia"),
    "UGX": _current("Uganda-Shilling"),
    "UYU": _current("Uruguay-Peso"),
    "VND": _current("Vietnam-Dong"),
    "ZAR": _current("South Africa-Rand"),
    "ZMW": [Label("Zambia-Kwacha", date(2012, 12, 31), 1_000), Label("Zambia-New Kwacha", None)],
}


def label_on(code: str, report: date) -> Label | None:
    """The text (and units) a currency is published under in a report, if any."""
    after = date.min
    for label in LABELS[code]:
        if after < report and (label.until is None or report <= label.until):
            return label
        after = label.until or date.max
    return None


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


def _rate_day(report: date) -> date:
    """The last day of the month before the report: the day its rates are taken on."""
    return report.replace(day=1) - timedelta(days=1)


class _Levels:
    """Units per USD of each currency in each report, before amendments: the ECB's
    crossed rate of the rate day within the spread, else the walk."""

    def __init__(self, seed: int, reports: list[date]) -> None:
        self.ecb = usd_rates(seed, _rate_day(reports[0]) - timedelta(days=10), reports[-1])
        self.ecb_days = sorted(self.ecb)
        self.walks = {code: _walk(code, LEVELS[code], reports, seed) for code in LEVELS}
        self.walks.update({text: _walk(text, lv, reports, seed) for text, lv in UNMAPPED.items()})
        self.spread = random.Random(f"treasury:{seed}:spread")

    def _ecb(self, code: str, report: date) -> Decimal | None:
        """The ECB's crossed rate on the rate day, or on the last TARGET day of the week
        before it (the rate day may be a holiday)."""
        index = bisect.bisect_right(self.ecb_days, _rate_day(report))
        for known in self.ecb_days[max(index - 7, 0) : index][::-1]:
            if code in self.ecb[known]:
                return self.ecb[known][code]
        return None

    def value(self, code: str, report: date, units: int) -> tuple[Decimal, bool]:
        """(units per USD in the units the label carries, whether it follows the ECB)."""
        # Drawn for every row, used or not, so a row's value never depends on another's.
        spread = 1 + Decimal(self.spread.randint(-SPREAD_BP, SPREAD_BP)) / 10000
        if units != 1 and code in ECB_OLD_UNITS:
            crossed = self._ecb(ECB_OLD_UNITS[code], report)
            if crossed is not None:
                return crossed * spread, True
        crossed = self._ecb(code, report)
        if crossed is not None:
            return crossed * spread * units, True
        return self.walks[code][report] * units, False


@lru_cache(maxsize=4)
def reports(seed: int, end: date) -> tuple[Row, ...]:
    """Every row published by `end`: the reports from 2001-03-31 to the last quarter end,
    and their amendments up to `end`."""
    dates = list(quarter_ends(FIRST_REPORT, end))
    if not dates:
        return ()
    levels = _Levels(seed, dates)
    rng = random.Random(f"treasury:{seed}:amendments")
    carry: dict[str, Decimal] = {}  # an amended level persists into later reports
    rows: list[Row] = []
    for report in dates:
        entries = []
        for code in LABELS:
            label = label_on(code, report)
            if label is not None:
                entries.append((label.text, code, *levels.value(code, report, label.units)))
        euro = next(value for text, code, value, _ in entries if code == "EUR")
        entries += [(member, "EUR", euro, True) for member in EURO_MEMBERS]
        entries += [(text, text, levels.walks[text][report], False) for text in UNMAPPED]
        line = 0
        for text, code, level, anchored in sorted(entries):
            # A level that follows the ECB starts each report afresh; a walk keeps the
            # amendments made to it.
            value = level if anchored else level * carry.get(code, Decimal(1))
            line += 1
            rows.append(Row(report, report, text, treasury_text(value), line))
            # Drawn for every row, used or not, so a row's values never depend on `end`.
            roll, move, delay = rng.randint(1, 5), rng.randint(10, 35), rng.randint(20, 75)
            amended = code in AMENDED_EVERY_QUARTER or (code in DRIFT_BP and roll == 1)
            effective = report + timedelta(days=delay)
            if amended and report >= AMENDMENTS_SINCE and text not in EURO_MEMBERS:
                # A move of 10-35% within the quarter after the report: an amendment row.
                factor = Decimal(100 + move) / 100
                carry[code] = carry.get(code, Decimal(1)) * factor
                if effective <= end:
                    line += 1
                    rows.append(Row(report, effective, text, treasury_text(value * factor), line))
    return tuple(rows)
