"""U.S. Treasury Reporting Rates of Exchange (Fiscal Data): foreign units per 1 USD.

`GET {TREASURY_API_URL}/services/api/fiscal_service/v1/accounting/od/rates_of_exchange`
with `fields`, `filter` (`field:op:value`, comma = AND, lists as `in:(a,b)`), `sort`
and `page[number]`/`page[size]`; the answer is `{"data": [...], "meta": {...,
"total-pages": n}, "links": {...}}` with every value a JSON string.

Reports are quarterly (`record_date` = quarter end); a currency that moves 10% or more
gets amendment rows under the same report with a later `effective_date`, so one
currency can have several rows per quarter. Rows are keyed by `country_currency_desc`
text, mapped to ISO 4217 in `treasury.fx.currencies`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from treasury.fx.currencies import (
    TREASURY_DESCRIPTIONS,
    treasury_currency,
    treasury_descriptions,
    treasury_old_unit,
)
from treasury.fx.precision import RateInvalid, rate_validate
from treasury.fx.sources import Fetched, ParsedRate
from treasury.fx.sources.http import RatesHttp, RatesMalformed
from treasury.money import decimal_parse

SOURCE = "TREASURY"
ENDPOINT = "services/api/fiscal_service/v1/accounting/od/rates_of_exchange"
FIELDS = "record_date,country,currency,country_currency_desc,exchange_rate,effective_date"
PAGE_SIZE = 1000
MAX_PAGES = 500  # 500k rows: far beyond the whole dataset; stops a paging loop gone wrong
UNAVAILABLE = {"", "unavailable", "n/a", "null", "none"}
_PREFERRED = set(TREASURY_DESCRIPTIONS.values())


def treasury_fetch(
    http: RatesHttp, *, base_url: str, since: date, currencies: list[str] | None = None,
    page_size: int = PAGE_SIZE, on_page: Callable[[int, int], None] | None = None,
) -> Fetched:  # fmt: skip
    """Every mapped row with `record_date` on or after `since`, all pages."""
    url = f"{base_url.rstrip('/')}/{ENDPOINT}"
    texts = treasury_descriptions(currencies)
    params: dict[str, Any] = {
        "fields": FIELDS,
        "filter": f"country_currency_desc:in:({','.join(texts)}),record_date:gte:{since}",
        "sort": "-record_date,country_currency_desc,-effective_date",
        "page[size]": page_size,
    }
    rows: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        body = _page(http.get(url, params={**params, "page[number]": page}).content)
        rows.extend(body["data"])
        pages = body["meta"]["total-pages"]
        if on_page is not None:
            on_page(page, pages)
        if page >= MAX_PAGES:
            raise RatesMalformed(f"Treasury paging did not end after {MAX_PAGES} pages")
        page += 1
    rates, skipped, unavailable, old_units = treasury_parse_rows(rows)
    notes = []
    if unavailable:
        notes.append(f"No rate given (UNAVAILABLE): {', '.join(sorted(unavailable))}")
    if old_units:
        notes.append(
            "Rates in a currency's old unit, not stored as today's: " + ", ".join(sorted(old_units))
        )
    return Fetched(rates=rates, url=url, skipped=skipped, notes=tuple(notes))


def _page(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content, parse_float=Decimal)
    except ValueError as exc:
        raise RatesMalformed(f"Treasury answer is not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise RatesMalformed("Treasury answer has no `data` list")
    meta = body.get("meta")
    try:
        total_pages = int(meta["total-pages"]) if isinstance(meta, dict) else None
    except (KeyError, TypeError, ValueError):
        total_pages = None
    if total_pages is None or total_pages < 0:
        raise RatesMalformed("Treasury answer has no usable meta.total-pages")
    body["meta"]["total-pages"] = total_pages
    return body


def _field(row: dict[str, Any], name: str, index: int) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise RatesMalformed(f"Treasury row {index}: {name} is {value!r}, not a string")
    return value


def _date(row: dict[str, Any], name: str, index: int) -> date:
    text = _field(row, name, index)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise RatesMalformed(f"Treasury row {index}: {name} {text!r} is not a date") from exc


def treasury_parse_rows(
    rows: list[dict[str, Any]],
) -> tuple[list[ParsedRate], int, set[str], set[str]]:
    """(rates oldest first, rows not mapped, currencies without a rate, old units seen).
    One rate per currency and effective date: the preferred text over an alias, then the
    latest report. A row in a redenominated currency's old unit ("Turkey-Lira" before
    2005) is never stored as today's currency: it is named in the last set instead."""
    chosen: dict[tuple[str, date], tuple[bool, date, ParsedRate]] = {}
    skipped, unavailable, old_units = 0, set(), set()
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise RatesMalformed(f"Treasury row {index} is not an object")
        text = _field(row, "country_currency_desc", index)
        record_date = _date(row, "record_date", index)
        effective_date = _date(row, "effective_date", index)
        old = treasury_old_unit(text, effective_date)
        if old is not None:
            old_units.add(f"{old.old_code} ({text}, before {old.since})")
            continue
        code = treasury_currency(text)
        if code is None:
            skipped += 1
            continue
        raw = _field(row, "exchange_rate", index)
        if raw.strip().casefold() in UNAVAILABLE or decimal_parse_or_none(raw) == 0:
            unavailable.add(code)
            continue
        try:
            value = rate_validate(decimal_parse(raw))
        except (ValueError, RateInvalid) as exc:
            raise RatesMalformed(f"Treasury row {index} ({text} {record_date}): {exc}") from exc
        rate = ParsedRate(
            source=SOURCE, base="USD", quote=code, date=effective_date, rate=value,
            record_date=record_date, source_key=text,
        )  # fmt: skip
        rank = (text in _PREFERRED, record_date, rate)
        key = (code, effective_date)
        if key not in chosen or rank[:2] > chosen[key][:2]:
            chosen[key] = rank
    rates = sorted((rank[2] for rank in chosen.values()), key=lambda r: (r.date, r.quote))
    return rates, skipped, unavailable, old_units


def decimal_parse_or_none(text: str) -> Decimal | None:
    try:
        return decimal_parse(text)
    except ValueError:
        return None
