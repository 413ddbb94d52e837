"""The Treasury Fiscal Data simulator: `rates_of_exchange` with the API's query syntax.

`GET /services/api/fiscal_service/v1/accounting/od/rates_of_exchange` takes
- `fields=a,b` (projection), `filter=f:op:v[,f:op:v]` (ops eq lt lte gt gte in; lists as
  `in:(a,b)`; comma = AND), `sort=-a,b`, `page[number]` (1-based), `page[size]`
  (default 100, at most 10000), `format=json`;
- answers `{"data": [...], "meta": {"count", "labels", "dataTypes", "dataFormats",
  "total-count", "total-pages"}, "links": {"self", "first", "prev", "next", "last"}}`
  with every value a string, and 400 `{"error", "message"}` for a bad parameter.

Control: `POST /_sim/today {"today": "2025-06-30"}` sets the last report date reached.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from django.utils import timezone

from simulators.base import SimRequest, SimResponse, SimulatorServer
from simulators.treasury.data import Row, reports

PATH = "/services/api/fiscal_service/v1/accounting/od/rates_of_exchange"
FIELDS = (
    "record_date", "country", "currency", "country_currency_desc", "exchange_rate",
    "effective_date", "src_line_nbr", "record_fiscal_year", "record_fiscal_quarter",
    "record_calendar_year", "record_calendar_quarter", "record_calendar_month",
    "record_calendar_day",
)  # fmt: skip
LABELS = {
    "record_date": "Record Date", "country": "Country", "currency": "Currency",
    "country_currency_desc": "Country - Currency Description",
    "exchange_rate": "Exchange Rate", "effective_date": "Effective Date",
    "src_line_nbr": "Source Line Number", "record_fiscal_year": "Fiscal Year",
    "record_fiscal_quarter": "Fiscal Quarter Number", "record_calendar_year": "Calendar Year",
    "record_calendar_quarter": "Calendar Quarter Number",
    "record_calendar_month": "Calendar Month Number", "record_calendar_day": "Calendar Day Number",
}  # fmt: skip
TYPES = {
    "record_date": "DATE", "effective_date": "DATE", "exchange_rate": "NUMBER",
    "src_line_nbr": "INTEGER",
}  # fmt: skip
OPERATORS = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}
MAX_PAGE_SIZE = 10000
_CONDITION = re.compile(r"(?:[^,(]|\([^)]*\))+")


class BadParam(ValueError):
    pass


def _conditions(text: str) -> list[tuple[str, str, Any]]:
    conditions = []
    for part in _CONDITION.findall(text):
        try:
            name, op, value = part.split(":", 2)
        except ValueError as exc:
            raise BadParam(f"Invalid filter: {part!r} (expected field:operator:value)") from exc
        if name not in FIELDS:
            raise BadParam(f"Invalid filter field: {name}")
        if op == "in":
            if not (value.startswith("(") and value.endswith(")")):
                raise BadParam(f"Invalid filter value for in: {value} (expected (a,b))")
            conditions.append((name, op, set(value[1:-1].split(","))))
        elif op in OPERATORS:
            conditions.append((name, op, value))
        else:
            raise BadParam(f"Invalid filter operator: {op}")
    return conditions


def _matches(row: dict[str, str], conditions: list[tuple[str, str, Any]]) -> bool:
    for name, op, value in conditions:
        field = row[name]
        if op == "in":
            if field not in value:
                return False
        elif TYPES.get(name) in {"NUMBER", "INTEGER"}:
            if not OPERATORS[op](_number(field), _number(value)):
                return False
        elif not OPERATORS[op](field, value):
            return False
    return True


def _number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise BadParam(f"Not a number: {text}") from exc


def _sorted(rows: list[dict[str, str]], sort: str) -> list[dict[str, str]]:
    for key in reversed([k for k in sort.split(",") if k]):
        name = key.lstrip("-")
        if name not in FIELDS:
            raise BadParam(f"Invalid sort field: {name}")
        rows.sort(key=lambda r, n=name: r[n], reverse=key.startswith("-"))
    return rows


def _int(value: str | None, default: int, name: str) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise BadParam(f"Invalid {name}: {value}")
    return int(value)


def _link(number: int, size: int) -> str:
    return f"&{quote('page[number]')}={number}&{quote('page[size]')}={size}"


class TreasurySimulator(SimulatorServer):
    name = "treasury"
    contracts = ("treasury",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.today: date = timezone.now().date()
        self.route("GET", PATH, self.rates_of_exchange)

    def rows(self) -> tuple[Row, ...]:
        return reports(self.seed, self.today)

    def rates_of_exchange(self, request: SimRequest) -> SimResponse:
        try:
            return self._answer(request)
        except BadParam as exc:
            return SimResponse.json(
                {"error": "Invalid Query Param", "message": str(exc)}, status=400
            )

    def _answer(self, request: SimRequest) -> SimResponse:
        if (request.arg("format") or "json") != "json":
            raise BadParam("This simulator answers format=json only")
        fields = [f for f in (request.arg("fields") or ",".join(FIELDS)).split(",") if f]
        unknown = [f for f in fields if f not in FIELDS]
        if unknown:
            raise BadParam(f"Invalid fields: {', '.join(unknown)}")
        conditions = _conditions(request.arg("filter") or "")
        rows = [row.as_json() for row in self.rows()]
        rows = _sorted([r for r in rows if _matches(r, conditions)], request.arg("sort") or "")
        size = min(_int(request.arg("page[size]"), 100, "page[size]"), MAX_PAGE_SIZE)
        number = _int(request.arg("page[number]"), 1, "page[number]")
        pages = max(math.ceil(len(rows) / size), 1)
        page = [{f: r[f] for f in fields} for r in rows[(number - 1) * size : number * size]]
        return SimResponse.json(
            {
                "data": page,
                "meta": {
                    "count": len(page),
                    "labels": {f: LABELS[f] for f in fields},
                    "dataTypes": {f: TYPES.get(f, "STRING") for f in fields},
                    "dataFormats": {
                        f: "YYYY-MM-DD" if TYPES.get(f) == "DATE" else "String" for f in fields
                    },
                    "total-count": len(rows),
                    "total-pages": pages,
                },
                "links": {
                    "self": _link(number, size),
                    "first": _link(1, size),
                    "prev": _link(number - 1, size) if number > 1 else None,
                    "next": _link(number + 1, size) if number < pages else None,
                    "last": _link(pages, size),
                },
            }
        )

    def error_response(self, status: int, message: str) -> SimResponse:
        return SimResponse.json({"error": "Error", "message": message}, status=status)

    def state(self) -> dict[str, Any]:
        rows = self.rows()
        return {
            **super().state(),
            "today": self.today.isoformat(),
            "rows": len(rows),
            "latest_report": rows[-1].record_date.isoformat() if rows else None,
        }

    def control(self, action: str, request: SimRequest) -> SimResponse:
        if action == "today" and request.method == "POST":
            body = request.json() or {}
            with self.lock:
                self.today = date.fromisoformat(body["today"])
            return SimResponse.json(self.state())
        return super().control(action, request)


def build(*, seed: int, port: int = 0) -> TreasurySimulator:
    return TreasurySimulator(seed=seed, port=port)
