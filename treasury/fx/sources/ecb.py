"""The ECB's euro foreign exchange reference rates: foreign units per 1 EUR.

Files under `{ECB_URL}/stats/eurofxref/`:
- `eurofxref-daily.xml`, `eurofxref-hist-90d.xml`, `eurofxref-hist.xml`: a gesmes
  envelope holding `Cube` > `Cube time="YYYY-MM-DD"` > `Cube currency="USD" rate="1.0705"`.
- `eurofxref-hist.zip`: one `eurofxref-hist.csv`, `Date` then one column per currency
  (newest day first), `N/A` where a currency had no rate that day, and a trailing empty
  column after every line's last comma.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from xml.etree.ElementTree import ParseError

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from treasury.fx.precision import RateInvalid, rate_validate
from treasury.fx.sources import Fetched, ParsedRate
from treasury.fx.sources.http import RatesHttp, RatesMalformed
from treasury.money import UnknownCurrencyError, currency_validate, decimal_parse

SOURCE = "ECB"
ECB_NAMESPACE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
FILES = {
    "daily": "stats/eurofxref/eurofxref-daily.xml",
    "90d": "stats/eurofxref/eurofxref-hist-90d.xml",
    "hist-xml": "stats/eurofxref/eurofxref-hist.xml",
    "hist": "stats/eurofxref/eurofxref-hist.zip",
}
_CODE = re.compile(r"^[A-Z]{3}$")


def ecb_fetch(http: RatesHttp, *, base_url: str, kind: str) -> Fetched:
    """Download one ECB file (`daily`, `90d`, `hist-xml` or `hist`) and parse it."""
    url = f"{base_url.rstrip('/')}/{FILES[kind]}"
    response = http.get(url)
    parse = ecb_parse_csv_zip if kind == "hist" else ecb_parse_xml
    rates, skipped = parse(response.content)
    return Fetched(rates=rates, url=url, skipped=len(skipped), notes=_notes(skipped))


def _notes(skipped: set[str]) -> tuple[str, ...]:
    if not skipped:
        return ()
    return (f"Not ISO 4217 codes Bulwark knows, skipped: {', '.join(sorted(skipped))}",)


def _rate(currency: str, text: str, day: date, where: str) -> ParsedRate:
    try:
        value = rate_validate(decimal_parse(text))
    except (ValueError, RateInvalid) as exc:
        raise RatesMalformed(f"ECB {where}: {currency} on {day}: {exc}") from exc
    return ParsedRate(source=SOURCE, base="EUR", quote=currency, date=day, rate=value)


def _code(text: str | None, where: str, skipped: set[str]) -> str | None:
    if text is None or not _CODE.match(text):
        raise RatesMalformed(f"ECB {where}: {text!r} is not a currency code")
    try:
        return currency_validate(text)
    except UnknownCurrencyError:
        skipped.add(text)
        return None


def _day(text: str | None, where: str) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError as exc:
        raise RatesMalformed(f"ECB {where}: {text!r} is not a date") from exc


def ecb_parse_xml(content: bytes) -> tuple[list[ParsedRate], set[str]]:
    """Every (day, currency, rate) of a daily, 90-day or history XML file."""
    try:
        root = ElementTree.fromstring(content)
    except (ParseError, DefusedXmlException) as exc:
        raise RatesMalformed(f"ECB XML does not parse: {exc}") from exc
    rates: list[ParsedRate] = []
    skipped: set[str] = set()
    days = root.findall(f"{ECB_NAMESPACE}Cube/{ECB_NAMESPACE}Cube")
    for day_cube in days:
        day = _day(day_cube.get("time"), "XML")
        for cube in day_cube:
            code = _code(cube.get("currency"), "XML", skipped)
            if code is not None:
                rates.append(_rate(code, cube.get("rate") or "", day, "XML"))
    if not rates:
        raise RatesMalformed("ECB XML holds no Cube time=… with rates")
    return rates, skipped


def ecb_parse_csv_zip(content: bytes) -> tuple[list[ParsedRate], set[str]]:
    """Every rate of `eurofxref-hist.zip`; `N/A` and empty cells are gaps, not rates."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise RatesMalformed(f"ECB zip should hold one CSV file, holds {names}")
            text = archive.read(names[0]).decode("utf-8-sig")
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError) as exc:
        raise RatesMalformed(f"ECB zip does not open: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise RatesMalformed(f"ECB CSV should start with a Date column, starts {header!r}")
    skipped: set[str] = set()
    columns = [
        (index, _code(name.strip(), "CSV header", skipped))
        for index, name in enumerate(header)
        if index and name.strip()
    ]
    rates: list[ParsedRate] = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) < len(header) - (header[-1].strip() == ""):
            raise RatesMalformed(f"ECB CSV line {line_no} has {len(row)} of {len(header)} cells")
        day = _day(row[0].strip(), f"CSV line {line_no}")
        for index, code in columns:
            cell = row[index].strip()
            if code is not None and cell and cell != "N/A":
                rates.append(_rate(code, cell, day, f"CSV line {line_no}"))
    if not rates:
        raise RatesMalformed("ECB CSV holds no rates")
    return rates, skipped
