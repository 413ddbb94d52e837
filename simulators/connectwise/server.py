"""A loopback fake of ConnectWise PSA (Manage): the REST API Bulwark uses, with its shapes,
its contract, its limits and its callbacks.

- **Codebase discovery**: `GET /login/companyinfo/{companyId}` (no credentials), answering
  `Codebase` (`v2025_1/`) as a cloud tenant does. The API lives under
  `/{codebase}apis/3.0` and also under the router codebase `v4_6_release/`.
- **Auth** on every API call: Basic `companyId+publicKey:privateKey` and a `clientId`
  header. Wrong keys answer 401, except through the router codebase, where the cloud
  answers 404 (developer guide: "Are you getting a 404 error ... on cloud? You may have
  incorrect authentication"). A missing or unregistered clientId answers 400 naming the
  clientId (secondary source: "ConnectWise rejects API calls from unregistered client apps
  with a 400 and 'clientId' in the error").
- **Resources**: companies, contacts, invoices (+ count, PATCH), payments on an invoice
  (list, get, POST, DELETE), time and expense entries and products (the invoice's lines,
  read with `conditions=invoice/id=N`), tax codes, billing terms, currencies, callbacks
  (list, get, POST, PUT, PATCH, DELETE). Other operations of the contract answer 501.
- **Queries**: `conditions` and `orderBy` (see `conditions.py`), `fields`, `page` and
  `pageSize` (default 25; above 1,000 it is cut to 1,000, ConnectWise's "hard limit of
  1,000 records"), and an RFC 5988 `Link` header with `first`/`prev`/`next`/`last` (`next`
  and `prev` only when there is one; `first` from page 2 on, as the guide's page-1 example
  shows only `next` and `last`). With the header `pagination-type: forward-only`, keyset
  paging by `pageId` instead, its `Link` always naming the next `pageId`.
- **Contract**: every request and every reply is checked against the extract
  (`spec.request_violations` / `spec.response_violations`); a violation is kept in
  `violations` and the request refused with ConnectWise's error body (`code`, `message`,
  `errors[]` of `{code, message, resource, field}`), or, for an off-contract reply (a
  simulator bug), a 500.
- **Rate limit**: ConnectWise documents no exact figure: "If your integration currently
  sends over 1,000 requests per minute, it will likely experience rate limiting", with a
  429, a `Retry-After` in seconds and the body `{"error": "ConnectWiseAPI", "message":
  ...}`. Assumed here: 1,000 requests in any rolling 60 seconds per tenant (`limits`).
- **Callbacks**: a registered `/system/callbacks` entry gets a POST of ConnectWise's
  payload (`MessageId`, `FromUrl`, `CompanyId`, `MemberId`, `Action`, `Type`, `ID`,
  `Entity` as JSON text, `Metadata.key_url`, `CallbackObjectRecId`) at its URL with the
  record id appended, signed in `x-content-signature`, for every change to a record its
  type and level cover, made through the API or through `/_sim/` (a person in the UI).
  Delivery is in the background, in order; a 404, 409, 419 or 429 is retried twice, 2
  and 4 seconds later, with a 5-second timeout, as the guide says.
- **Amounts** are JSON numbers written as ConnectWise's float64 fields are (`1250.5`,
  `100.0`): the simulator keeps Decimals and writes their exact digits, never via float.

Faults beyond the base's: `set_late_faults(rate, seconds)` does the work, then answers
too late for the client, which cannot know the outcome of its write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from simulators.base import SimRequest, SimResponse, SimulatorServer, json_dumps
from simulators.connectwise import spec
from simulators.connectwise.conditions import (
    ConditionError,
    compile_conditions,
    field_value,
    order_key,
    sort_rows,
)
from simulators.connectwise.generator import API_MEMBER, BOOKKEEPER, MSP_NAME, msp_year
from simulators.connectwise.psa import Change, Psa, cw_time, money

CODEBASE = "v2025_1/"
ROUTER_CODEBASE = "v4_6_release/"
DEMO_COMPANY_ID = "lighthouse"
DEMO_PUBLIC_KEY = "Lh7pQ2mVx9Rk3Tz1"
DEMO_PRIVATE_KEY = "Kp4wY8nD2sF6hJ0q"  # the simulator's own demo key
DEMO_CLIENT_ID = "5f0c6a52-8c1d-4b8e-9f3a-2d7e1c9b4a60"
API_MEMBER_ID = 6
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
CALLBACK_TYPES = {  # type: levels (developer guide, "PSA Callbacks": Levels and Types)
    "invoice": {"owner", "status", "company", "invoice"},
    "company": {"owner", "status", "type", "territory", "company"},
    "contact": {"owner", "type", "company", "contact"},
    "time": {"owner", "company", "time"},
    "expense": {"owner", "company", "expense"},
    "agreement": {"owner", "type", "company", "agreement"},
    "ticket": {"owner", "board", "status", "company", "ticket"},
    "project": {"owner", "status", "company", "project"},
    "productcatalog": {"owner", "productcatalog"},
}
RETRIED_CALLBACK_STATUSES = {404, 409, 419, 429}


@dataclass
class Limits:
    per_window: int = 1000
    window_seconds: float = 60.0
    enabled: bool = True


@dataclass
class LateFaults:
    rate: float = 0.0
    seconds: float = 1.0
    paths: str = ""


@dataclass
class Delivery:
    callback_id: int
    url: str
    payload: dict[str, Any]
    attempts: list[int | str] = field(default_factory=list)  # status, or the failure


class ConnectWiseSimulator(SimulatorServer):
    name = "connectwise"
    _TRANSIENT = (*SimulatorServer._TRANSIENT, "_outbox", "_courier")

    def __init__(
        self,
        *,
        seed: int = 1,
        port: int = 0,
        until: date | None = None,
        callback_retry_delays: tuple[float, ...] = (2.0, 4.0),
        callback_timeout: float = 5.0,
    ) -> None:
        super().__init__(port=port, seed=seed)
        self.until = until or datetime.now(UTC).date()
        self.callback_retry_delays = callback_retry_delays
        self.callback_timeout = callback_timeout
        self.callback_secret = hashlib.sha256(f"callbacks-{seed}".encode()).hexdigest()
        self.client_ids = {DEMO_CLIENT_ID}
        self.keys = {(DEMO_COMPANY_ID, DEMO_PUBLIC_KEY): DEMO_PRIVATE_KEY}
        self._data_init()
        self._outbox: queue.Queue[Delivery | None] = queue.Queue()
        self._courier: threading.Thread | None = None

    def _data_init(self) -> None:
        self.psa: Psa = msp_year(self.seed, self.until)
        self.limits = Limits()
        self.late = LateFaults()
        self.clock_offset = 0.0
        self.window: list[float] = []
        self.violations: list[dict[str, Any]] = []
        self.callbacks_sent: list[Delivery] = []
        self.rate_limited = 0
        self.late_answers = 0  # replies held past the client's timeout (`set_late_faults`)

    # --- lifecycle: the callback courier -------------------------------------------------

    def start(self) -> ConnectWiseSimulator:
        super().start()
        self._courier = threading.Thread(target=self._courier_run, name="cw-callbacks", daemon=True)
        self._courier.start()
        return self

    def stop(self) -> None:
        if self._courier is not None:
            self._outbox.put(None)
            self._courier.join(timeout=10)
            self._courier = None
        super().stop()

    def snapshot_restore(self, state: dict[str, Any]) -> None:
        super().snapshot_restore(state)
        self._outbox, self._courier = queue.Queue(), None

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self._data_init()

    # --- clock, state, settings for tests -----------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    def limits_set(self, **values: Any) -> None:
        with self.lock:
            for name, value in values.items():
                setattr(self.limits, name, value)
            self.window.clear()

    def set_late_faults(self, rate: float, seconds: float = 1.0, paths: str = "") -> None:
        """Do the work, then answer `seconds` late (past the client's timeout)."""
        with self.lock:
            self.late = LateFaults(rate, seconds, paths)

    def state(self) -> dict[str, Any]:
        with self.lock:
            psa = self.psa
            return {
                **super().state(),
                "until": self.until.isoformat(),
                "companies": len(psa.companies),
                "invoices": len(psa.invoices),
                "payments": len(psa.payments),
                "callbacks": len(psa.callbacks),
                "callbacks_sent": len(self.callbacks_sent),
                "violations": len(self.violations),
                "rate_limited": self.rate_limited,
                "late_answers": self.late_answers,
            }

    def payments_of(self, invoice_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(p) for p in self.psa.payments.values() if p["invoice"]["id"] == invoice_id]

    def callbacks_flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued callback has been delivered (or given up)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    # --- changes as a person in ConnectWise makes them (tests and `/_sim/`) -------------

    def invoice_add(
        self,
        *,
        company_id: int,
        lines: list[dict[str, Any]],
        day: date | None = None,
        type_: str = "Standard",
    ) -> dict[str, Any]:
        """A new invoice with product lines (`description`, `quantity`, `price`, `taxable`)."""
        with self.lock:
            moment = self.now()
            invoice = self.psa.invoice_new(
                company_id=company_id, type_=type_, day=day or moment.date(), moment=moment,
                member="admin1",
            )  # fmt: skip
            for line in lines:
                self._product_line(invoice, line, moment)
            self.psa.invoice_recompute(invoice)
            self.psa.record("Invoice", "added", invoice, "admin1")
            result = dict(invoice)
        self._deliver_changes()
        return result

    def invoice_amend(
        self,
        invoice_id: int,
        *,
        add_lines: Iterable[dict[str, Any]] = (),
        price: tuple[int, Decimal] | None = None,
        reference: str | None = None,
        due_date: date | None = None,
    ) -> dict[str, Any]:
        """Change an invoice as a person would: more lines, a product's price, fields."""
        with self.lock:
            moment = self.now()
            invoice = self.psa.invoices[invoice_id]
            for line in add_lines:
                self._product_line(invoice, line, moment)
            if price is not None:
                product = self.psa.products[price[0]]
                product["price"] = money(Decimal(price[1]))
                product["extPrice"] = money(product["price"] * product["quantity"])
                self.psa.stamp(product, moment, "admin1")
            if reference is not None:
                invoice["reference"] = reference
            if due_date is not None:
                invoice["dueDate"] = cw_time(due_date)
            self.psa.invoice_recompute(invoice)
            self.psa.stamp(invoice, moment, "admin1")
            self.psa.record("Invoice", "updated", invoice, "admin1")
            result = dict(invoice)
        self._deliver_changes()
        return result

    def invoice_delete(self, invoice_id: int) -> None:
        with self.lock:
            invoice = self.psa.invoices.pop(invoice_id)
            for _kind, line in self.psa.lines_of(invoice_id):
                line.pop("invoice", None)
            self.psa.record("Invoice", "deleted", invoice, "admin1")
        self._deliver_changes()

    def payment_add(
        self, invoice_id: int, amount: Decimal, day: date | None = None
    ) -> dict[str, Any]:
        """A payment applied in ConnectWise's UI by the bookkeeper."""
        with self.lock:
            invoice = self.psa.invoices[invoice_id]
            problem = self.psa.payment_problem(invoice, amount)
            assert problem is None, problem
            moment = self.now()
            payment = self.psa.payment_apply(
                invoice, amount=amount, day=day or moment.date(), moment=moment, member=BOOKKEEPER
            )
            self.psa.record("Invoice", "updated", invoice, BOOKKEEPER)
            result = dict(payment)
        self._deliver_changes()
        return result

    def _product_line(
        self, invoice: dict[str, Any], line: dict[str, Any], moment: datetime
    ) -> None:
        psa = self.psa
        quantity = Decimal(str(line.get("quantity", 1)))
        price = money(Decimal(str(line["price"])))
        product_id = psa.new_id("product", 60001)
        record = {
            "id": product_id,
            "catalogItem": {"id": int(line.get("catalog_id", 4)),
                            "identifier": line.get("item", "MISC")},
            "description": line.get("description", "Item"),
            "quantity": quantity, "price": price, "cost": Decimal("0.00"),
            "extPrice": money(price * quantity), "extCost": Decimal("0.00"),
            "billableOption": "Billable", "taxableFlag": bool(line.get("taxable", False)),
            "customerDescription": line.get("description", "Item"),
            "invoice": psa.invoice_ref(invoice), "company": dict(invoice["company"]),
            "taxCode": dict(invoice["taxCode"]), "customFields": [],
        }  # fmt: skip
        psa.stamp(record, moment, "admin1")
        psa.products[product_id] = record

    # --- control ------------------------------------------------------------------------

    def control(self, action: str, request: SimRequest) -> SimResponse:
        """`/_sim/` actions: invoice, invoice-amend, invoice-delete, payment, violations,
        limits, late, advance, callbacks-sent, callback-key."""
        body = (request.json() or {}) if request.method == "POST" else {}
        if action == "invoice" and request.method == "POST":
            day = date.fromisoformat(body["date"]) if body.get("date") else None
            invoice = self.invoice_add(
                company_id=int(body["company_id"]), lines=body.get("lines", []), day=day,
                type_=body.get("type", "Standard"),
            )  # fmt: skip
            return self._json(invoice)
        if action == "invoice-amend" and request.method == "POST":
            price = body.get("price")
            invoice = self.invoice_amend(
                int(body["id"]), add_lines=body.get("add_lines", []),
                price=(int(price["product_id"]), Decimal(str(price["price"]))) if price else None,
                reference=body.get("reference"),
                due_date=date.fromisoformat(body["due_date"]) if body.get("due_date") else None,
            )  # fmt: skip
            return self._json(invoice)
        if action == "invoice-delete" and request.method == "POST":
            self.invoice_delete(int(body["id"]))
            return SimResponse.json({"deleted": int(body["id"])})
        if action == "payment" and request.method == "POST":
            day = date.fromisoformat(body["date"]) if body.get("date") else None
            payment = self.payment_add(int(body["invoice_id"]), Decimal(str(body["amount"])), day)
            return self._json(payment)
        if action == "violations":
            with self.lock:  # GET reads them; POST reads and clears them
                seen = list(self.violations)
                if request.method == "POST":
                    self.violations.clear()
            return SimResponse.json(seen)
        if action == "limits" and request.method == "POST":
            self.limits_set(**body)
            return SimResponse.json(asdict(self.limits))
        if action == "late" and request.method == "POST":
            self.set_late_faults(float(body.get("rate", 0)), float(body.get("seconds", 1)),
                                 body.get("paths", ""))  # fmt: skip
            return SimResponse.json(asdict(self.late))
        if action == "advance" and request.method == "POST":
            self.advance(float(body.get("seconds", 0)))
            return SimResponse.json({"now": cw_time(self.now())})
        if action == "callbacks-sent":
            with self.lock:
                return SimResponse.json([asdict(d) for d in self.callbacks_sent])
        if action == "callback-key":
            return SimResponse.json({"signing_key": self.callback_secret})
        return super().control(action, request)

    # --- dispatch: discovery, auth, limits, contract, faults ----------------------------

    def error_response(self, status: int, message: str) -> SimResponse:
        code = {
            400: "BadRequest",
            401: "Unauthorized",
            403: "Security",
            404: "NotFound",
            405: "MethodNotAllowed",
            501: "NotImplemented",
        }.get(status, "UnexpectedError")
        return self._error(status, code, message)

    @staticmethod
    def _error(status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
               ) -> SimResponse:  # fmt: skip
        body = {"code": code, "message": message, "errors": errors}
        return SimResponse.json(body, status=status)

    def dispatch(self, request: SimRequest) -> SimResponse:
        if request.path.startswith("/_sim/"):
            return super().dispatch(request)
        match = re.match(r"^/login/companyinfo/([^/]+)$", request.path)
        if match and request.method == "GET":
            return self._company_info(match.group(1))
        response = self._answer(request)
        self._deliver_changes()
        problems = self.check_response(request, response)
        if problems:
            self._violation("response", request, problems)
            response = self._error(
                500, "UnexpectedError", "The simulator's reply broke the contract"
            )
        self._late(request)
        return response

    def _answer(self, request: SimRequest) -> SimResponse:
        api = spec.API_PREFIX.match(request.path)
        if api is None or f"{api['codebase']}/" not in (CODEBASE, ROUTER_CODEBASE):
            return self.error_response(404, f"No route for {request.method} {request.path}")
        refused = self._authenticate(request, routed=f"{api['codebase']}/" == ROUTER_CODEBASE)
        if refused is None:
            refused = self._admit()
        if refused is not None:
            return refused
        violations = self.check_request(request)
        if violations:
            return self._refuse(request, violations)
        operation, params = spec.operation_for(request.method, api["path"])
        assert operation is not None  # check_request refuses a request outside the contract
        handler = getattr(self, HANDLERS.get((operation.method, operation.template), ""), None)
        if handler is None:
            return self.error_response(
                501, f"{request.method} {operation.template} is in the contract but not simulated"
            )
        with self.lock:
            return handler(request, **params)

    def check_request(self, request: SimRequest) -> list[spec.Violation]:
        """The contract check, request side (one function, for a suite-wide guard)."""
        return spec.request_violations(request)

    def check_response(self, request: SimRequest, response: SimResponse) -> list[spec.Violation]:
        """The contract check, reply side."""
        return spec.response_violations(request, response)

    def _violation(
        self, direction: str, request: SimRequest, problems: list[spec.Violation]
    ) -> None:
        with self.lock:
            self.violations.append({
                "direction": direction,
                "method": request.method,
                "path": request.path,
                "errors": [asdict(p) for p in problems],
            })  # fmt: skip

    def _refuse(self, request: SimRequest, problems: list[spec.Violation]) -> SimResponse:
        self._violation("request", request, problems)
        api = spec.API_PREFIX.match(request.path)
        operation, _ = spec.operation_for(request.method, api["path"] if api else "")
        if operation is None:
            return self.error_response(404, problems[0].message)
        resource = spec.resource_name(operation.model or "object")
        errors = [p.as_error(resource) for p in problems]
        return self._error(400, "InvalidObject", f"{resource} object is invalid", errors)

    def _company_info(self, company_id: str) -> SimResponse:
        if company_id.lower() not in {c.lower() for c, _ in self.keys}:
            return SimResponse.json(
                {"code": "NotFound", "message": "Company not found"}, status=404
            )
        return SimResponse.json({
            "CompanyName": MSP_NAME,
            "Codebase": CODEBASE,
            "VersionCode": "v2025.1",
            "VersionNumber": "v4.6.101045",
            "CompanyID": DEMO_COMPANY_ID,
            "IsCloud": "True",
            "SiteUrl": f"{self.host}:{self.port}",
        })  # fmt: skip

    def _authenticate(self, request: SimRequest, *, routed: bool) -> SimResponse | None:
        header = request.header("authorization") or ""
        company = public = private = ""
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
            except ValueError:
                decoded = ""
            user, _, private = decoded.partition(":")
            company, _, public = user.partition("+")
        expected = self.keys.get((company.lower(), public))
        if expected is None or not hmac.compare_digest(expected, private):
            if routed:  # the cloud's router cannot place the tenant: a 404, not a 401
                return self.error_response(404, "Not found")
            return self._error(401, "Unauthorized", "Incorrect public/private key")
        client_id = request.header("clientid") or ""
        if not client_id:
            return self._error(400, "BadRequest", "A clientId header is required on every call")
        if client_id.lower() not in self.client_ids:
            return self._error(400, "BadRequest", f"The clientId {client_id} is not registered")
        return None

    def _admit(self) -> SimResponse | None:
        with self.lock:
            now = time.time() + self.clock_offset
            limits = self.limits
            self.window = [t for t in self.window if now - t < limits.window_seconds]
            if limits.enabled and len(self.window) >= limits.per_window:
                self.rate_limited += 1
                retry = max(math.ceil(self.window[0] + limits.window_seconds - now), 1)
                body = {
                    "error": "ConnectWiseAPI",
                    "message": f"Too many requests. Please try again in {retry} seconds.",
                }
                return SimResponse.json(body, status=429, headers={"Retry-After": str(retry)})
            self.window.append(now)
        return None

    def _late(self, request: SimRequest) -> None:
        with self.lock:
            late = self.late
            if not late.rate or (late.paths and not re.search(late.paths, request.path)):
                return
            hit = self.rng.random() < late.rate
            self.late_answers += hit
        if hit:
            time.sleep(late.seconds)

    # --- replies ----------------------------------------------------------------------------

    @staticmethod
    def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> SimResponse:
        return SimResponse.json(cw_numbers(value), status=status, headers=headers)

    def _query(self, request: SimRequest, model: str) -> tuple[Any, Any, int, int] | SimResponse:
        """(predicate, order keys, page, page size) from the query string, or the refusal."""
        names = {name.lower() for name in spec.contract()[0][model]} | {"lastupdated"}

        def known(path: str) -> bool:
            return path.split("/")[0].lower() in names

        for unsupported in ("childConditions", "customFieldConditions"):
            if request.arg(unsupported):
                return self.error_response(400, f"{unsupported} is not supported by the simulator")
        try:
            predicate = compile_conditions(request.arg("conditions"), known)
            keys = order_key(request.arg("orderBy") or request.arg("orderby"), known)
            page = int(request.arg("page") or 1)
            size = int(request.arg("pageSize") or request.arg("pagesize") or DEFAULT_PAGE_SIZE)
        except ConditionError as exc:
            return self._error(400, "InvalidObject", str(exc))
        except ValueError:
            return self.error_response(400, "page and pageSize must be whole numbers")
        if page < 1 or size < 1:
            return self.error_response(400, "page and pageSize start at 1")
        return predicate, keys, page, min(size, MAX_PAGE_SIZE)

    def _rows(self, request: SimRequest, rows: list[dict[str, Any]], model: str) -> SimResponse:
        query = self._query(request, model)
        if isinstance(query, SimResponse):
            return query
        predicate, keys, page, size = query
        if (request.header("pagination-type") or "").lower() == "forward-only":
            return self._forward_only(request, [r for r in rows if predicate(r)], keys, size)
        matching = sort_rows([r for r in rows if predicate(r)], keys or [("id", False)])
        chunk = matching[(page - 1) * size : page * size]
        last = max(math.ceil(len(matching) / size), 1)
        chunk = [partial(r, request.arg("fields")) for r in chunk]
        return self._json(chunk, headers={"Link": self._links(request, page, size, last)})

    def _forward_only(
        self, request: SimRequest, rows: list[dict[str, Any]], keys: list[Any], size: int
    ) -> SimResponse:
        """Keyset paging (developer guide, "Forward-Only", 2018.5): `pageId` is an extra
        `id > pageId`, `page` is ignored, `orderBy` refused, and the `Link` header always
        names the next `pageId` (the last id sent)."""
        if keys:
            return self.error_response(400, "orderBy cannot be used with forward-only paging")
        try:
            after = int(request.arg("pageId") or 0)
        except ValueError:
            return self.error_response(400, "pageId must be a whole number")
        chunk = sorted((r for r in rows if r["id"] > after), key=lambda r: r["id"])[:size]
        following = chunk[-1]["id"] if chunk else after
        query = {k: v[0] for k, v in request.query.items() if k.lower() not in ("page", "pageid")}
        query.update({"pageSize": str(size), "pageId": str(following)})
        link = f'<{self.url}{request.path}?{urlencode(query)}>; rel="next"'
        chunk = [partial(r, request.arg("fields")) for r in chunk]
        return self._json(chunk, headers={"Link": link})

    def _links(self, request: SimRequest, page: int, size: int, last: int) -> str:
        def url(number: int) -> str:
            query = {
                k: v[0] for k, v in request.query.items() if k.lower() not in ("page", "pagesize")
            }
            query.update({"pageSize": str(size), "page": str(number)})
            return f"{self.url}{request.path}?{urlencode(query)}"

        links = []
        if page > 1:
            links += [f'<{url(1)}>; rel="first"', f'<{url(min(page - 1, last))}>; rel="prev"']
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
        return ", ".join(links)

    def _count(self, request: SimRequest, rows: list[dict[str, Any]], model: str) -> SimResponse:
        query = self._query(request, model)
        if isinstance(query, SimResponse):
            return query
        return self._json({"count": sum(1 for r in rows if query[0](r))})

    def _one(
        self, request: SimRequest, store: dict[int, dict[str, Any]], item_id: str, model: str
    ) -> SimResponse:
        record = store.get(int(item_id)) if item_id.isdigit() else None
        if record is None:
            return self.error_response(404, f"{model} with id {item_id} was not found")
        return self._json(partial(record, request.arg("fields")))

    # --- handlers: reads --------------------------------------------------------------------

    def companies_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.companies.values()), "Company")

    def companies_count(self, request: SimRequest) -> SimResponse:
        return self._count(request, list(self.psa.companies.values()), "Company")

    def company_get(self, request: SimRequest, id: str) -> SimResponse:
        return self._one(request, self.psa.companies, id, "Company")

    def contacts_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.contacts.values()), "Contact")

    def contact_get(self, request: SimRequest, id: str) -> SimResponse:
        return self._one(request, self.psa.contacts, id, "Contact")

    def invoices_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.invoices.values()), "Invoice")

    def invoices_count(self, request: SimRequest) -> SimResponse:
        return self._count(request, list(self.psa.invoices.values()), "Invoice")

    def invoice_get(self, request: SimRequest, id: str) -> SimResponse:
        return self._one(request, self.psa.invoices, id, "Invoice")

    def time_entries_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.time_entries.values()), "TimeEntry")

    def expense_entries_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.expense_entries.values()), "ExpenseEntry")

    def products_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.products.values()), "ProductItem")

    def tax_codes_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.tax_codes.values()), "TaxCode")

    def tax_code_get(self, request: SimRequest, id: str) -> SimResponse:
        return self._one(request, self.psa.tax_codes, id, "TaxCode")

    def billing_terms_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.billing_terms.values()), "BillingTerm")

    def billing_term_get(self, request: SimRequest, id: str) -> SimResponse:
        return self._one(request, self.psa.billing_terms, id, "BillingTerm")

    def currencies_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.currencies.values()), "FinanceCurrency")

    def currency_get(self, request: SimRequest, id: str) -> SimResponse:
        return self._one(request, self.psa.currencies, id, "FinanceCurrency")

    def payments_list(self, request: SimRequest, parentId: str) -> SimResponse:
        invoice = self._invoice(parentId)
        if invoice is None:
            return self.error_response(404, f"Invoice with id {parentId} was not found")
        rows = [p for p in self.psa.payments.values() if p["invoice"]["id"] == invoice["id"]]
        return self._rows(request, rows, "InvoicePayment")

    def payment_get(self, request: SimRequest, parentId: str, id: str) -> SimResponse:
        payment = self.psa.payments.get(int(id)) if id.isdigit() else None
        if payment is None or str(payment["invoice"]["id"]) != parentId:
            return self.error_response(404, f"InvoicePayment with id {id} was not found")
        return self._json(payment)

    def callbacks_list(self, request: SimRequest) -> SimResponse:
        return self._rows(request, list(self.psa.callbacks.values()), "CallbackEntry")

    def callback_get(self, request: SimRequest, id: str) -> SimResponse:
        return self._one(request, self.psa.callbacks, id, "CallbackEntry")

    def _invoice(self, invoice_id: str) -> dict[str, Any] | None:
        return self.psa.invoices.get(int(invoice_id)) if invoice_id.isdigit() else None

    # --- handlers: writes ---------------------------------------------------------------

    def payment_create(self, request: SimRequest, parentId: str) -> SimResponse:
        invoice = self._invoice(parentId)
        if invoice is None:
            return self.error_response(404, f"Invoice with id {parentId} was not found")
        body = request.json()
        amount = Decimal(str(body["amount"]))
        type_ = body.get("type") or "Payment"
        credit = None
        if type_ not in ("Payment", "Credit"):
            return self._invalid(
                "invoicePayment", "type", "InvalidField", "type is Payment or Credit"
            )
        if type_ == "Credit":
            credit = self.psa.invoices.get((body.get("credit") or {}).get("id") or 0)
            if credit is None or credit["type"] != "CreditMemo":
                return self._invalid(
                    "invoicePayment", "credit/id", "NotFound", "No such credit memo"
                )
            if amount > -credit["balance"]:
                return self._invalid(
                    "invoicePayment",
                    "amount",
                    "OutOfRange",
                    "The amount exceeds what is left of the credit memo",
                )
        problem = self.psa.payment_problem(invoice, amount)
        if problem:
            return self._invalid("invoicePayment", "amount", "OutOfRange", problem)
        moment = self.now()
        day = (
            date.fromisoformat(body["paymentDate"][:10])
            if body.get("paymentDate")
            else moment.date()
        )
        payment = self.psa.payment_apply(
            invoice, amount=amount, day=day, moment=moment, member=API_MEMBER, type_=type_,
            credit=credit, source=body.get("source") or "",
        )  # fmt: skip
        self.psa.record("Invoice", "updated", invoice, API_MEMBER)
        if credit is not None:
            self.psa.record("Invoice", "updated", credit, API_MEMBER)
        location = f"{self.url}{request.path}/{payment['id']}"
        return self._json(payment, status=201, headers={"Location": location})

    def payment_delete(self, request: SimRequest, parentId: str, id: str) -> SimResponse:
        payment = self.psa.payments.get(int(id)) if id.isdigit() else None
        if payment is None or str(payment["invoice"]["id"]) != parentId:
            return self.error_response(404, f"InvoicePayment with id {id} was not found")
        self.psa.payment_remove(payment, self.now(), API_MEMBER)
        self.psa.record(
            "Invoice", "updated", self.psa.invoices[payment["invoice"]["id"]], API_MEMBER
        )
        return SimResponse(status=204)

    def invoice_patch(self, request: SimRequest, id: str) -> SimResponse:
        invoice = self._invoice(id)
        if invoice is None:
            return self.error_response(404, f"Invoice with id {id} was not found")
        if self.psa.is_closed(invoice):
            return self._invalid(
                "invoice",
                "status",
                "InvalidObject",
                "A closed invoice cannot be changed; use /finance/closedInvoices",
            )
        changed = dict(invoice)
        refused = self._patch(changed, request.json(), "invoice")
        if refused is not None:
            return refused
        invoice.update(changed)
        self.psa.invoice_recompute(invoice)
        self.psa.stamp(invoice, self.now(), API_MEMBER)
        self.psa.record("Invoice", "updated", invoice, API_MEMBER)
        return self._json(invoice)

    def _patch(self, record: dict[str, Any], operations: list[dict[str, Any]], resource: str
               ) -> SimResponse | None:  # fmt: skip
        references = {
            "billingTerms": (self.psa.billing_terms, "name"),
            "taxCode": (self.psa.tax_codes, "description"),
            "status": ({1: {"name": "New"}, 2: {"name": "Sent"}}, "name"),
        }
        for operation in operations:
            path = operation["path"].removeprefix("/")
            if operation["op"] == "remove":
                record.pop(path, None)
                continue
            value = operation["value"]
            if path in references and isinstance(value, dict):
                table, label = references[path]
                target = table.get(value.get("id"))
                if target is None:
                    return self._invalid(resource, f"{path}/id", "NotFound",
                                         f"{path} {value.get('id')} not found")  # fmt: skip
                value = {"id": value["id"], "name": target[label]}
            record[path] = value
        return None

    def callback_create(self, request: SimRequest) -> SimResponse:
        body = request.json()
        refused = self._callback_problem(body)
        if refused is not None:
            return refused
        callback_id = self.psa.new_id("callback", 1)
        record = self._callback_record(callback_id, body)
        self.psa.callbacks[callback_id] = record
        location = f"{self.url}{request.path}/{callback_id}"
        return self._json(record, status=201, headers={"Location": location})

    def callback_replace(self, request: SimRequest, id: str) -> SimResponse:
        if not id.isdigit() or int(id) not in self.psa.callbacks:
            return self.error_response(404, f"CallbackEntry with id {id} was not found")
        body = request.json()
        refused = self._callback_problem(body)
        if refused is not None:
            return refused
        record = self._callback_record(int(id), body, self.psa.callbacks[int(id)]["_info"])
        self.psa.callbacks[int(id)] = record
        return self._json(record)

    def callback_patch(self, request: SimRequest, id: str) -> SimResponse:
        record = self.psa.callbacks.get(int(id)) if id.isdigit() else None
        if record is None:
            return self.error_response(404, f"CallbackEntry with id {id} was not found")
        changed = dict(record)
        refused = self._patch(changed, request.json(), "callbackEntry")
        if refused is None:
            refused = self._callback_problem(changed)
        if refused is not None:
            return refused
        record.update(changed)
        self.psa.stamp(record, self.now(), API_MEMBER)
        return self._json(record)

    def callback_delete(self, request: SimRequest, id: str) -> SimResponse:
        if self.psa.callbacks.pop(int(id) if id.isdigit() else 0, None) is None:
            return self.error_response(404, f"CallbackEntry with id {id} was not found")
        return SimResponse(status=204)

    def _callback_problem(self, body: dict[str, Any]) -> SimResponse | None:
        kind = str(body.get("type") or "").lower()
        if kind not in CALLBACK_TYPES:
            return self._invalid(
                "callbackEntry",
                "type",
                "InvalidField",
                f"Unknown callback type {body.get('type')!r}",
            )
        if str(body.get("level") or "").lower() not in CALLBACK_TYPES[kind]:
            return self._invalid(
                "callbackEntry",
                "level",
                "InvalidField",
                f"Level {body.get('level')!r} is not a level of {body.get('type')}",
            )
        if not re.match(r"^https?://", str(body.get("url") or "")):
            return self._invalid("callbackEntry", "url", "InvalidField", "The url must be http(s)")
        return None

    def _callback_record(
        self, callback_id: int, body: dict[str, Any], info: dict[str, str] | None = None
    ) -> dict[str, Any]:
        record = {
            "id": callback_id,
            "description": body.get("description", ""),
            "url": body["url"],
            "objectId": body["objectId"],
            "type": body["type"],
            "level": body["level"],
            "memberId": API_MEMBER_ID,
            "payloadVersion": body.get("payloadVersion") or "2025.1",
            "inactiveFlag": bool(body.get("inactiveFlag", False)),
            "isSoapCallbackFlag": False,
            "isSelfSuppressedFlag": bool(body.get("isSelfSuppressedFlag", False)),
        }
        if info:
            record["_info"] = dict(info)
        self.psa.stamp(record, self.now(), API_MEMBER)
        return record

    def _invalid(self, resource: str, field_name: str, code: str, message: str) -> SimResponse:
        error = {"code": code, "message": message, "resource": resource, "field": field_name}
        return self._error(400, "InvalidObject", f"{resource} object is invalid", [error])

    # --- callbacks ------------------------------------------------------------------------

    def _deliver_changes(self) -> None:
        with self.lock:
            changes = list(self.psa.changes)
            self.psa.changes.clear()
            for change in changes:
                for callback in self.psa.callbacks.values():
                    if self._covers(callback, change):
                        self._outbox.put(self._delivery(callback, change))

    @staticmethod
    def _covers(callback: dict[str, Any], change: Change) -> bool:
        if callback["inactiveFlag"] or callback["type"].lower() != change.type.lower():
            return False
        if callback["isSelfSuppressedFlag"] and change.member == API_MEMBER:
            return False  # the callback's own member (the API member) made the change
        level, object_id = callback["level"].lower(), callback["objectId"]
        if level == "owner":
            return True
        if level == "company":
            company = change.id if change.type == "Company" else change.company_id
            return company == object_id
        if level == "status":
            return change.status_id == object_id
        return level == change.type.lower() and change.id == object_id

    def _delivery(self, callback: dict[str, Any], change: Change) -> Delivery:
        entity = json_dumps(cw_numbers(change.entity)) if change.entity is not None else None
        payload = {
            "MessageId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "FromUrl": f"{self.host}:{self.port}",
            "CompanyId": DEMO_COMPANY_ID,
            "MemberId": change.member,
            "Action": change.action,
            "Type": change.type.lower(),
            "ID": change.id,
            "ProductInstanceId": None,
            "PartnerId": None,
            "Entity": entity,
            "Metadata": {"key_url": f"{self.url}/_sim/callback-key"},
            "CallbackObjectRecId": callback["id"],
        }
        # ConnectWise appends the record id to the URL (integrators end theirs in `?id=`).
        return Delivery(callback["id"], f"{callback['url']}{change.id}", payload)

    def _courier_run(self) -> None:
        while True:
            delivery = self._outbox.get()
            try:
                if delivery is None:
                    return
                self._send(delivery)
            finally:
                self._outbox.task_done()

    def _send(self, delivery: Delivery) -> None:
        body = json.dumps(delivery.payload).encode()
        key = hashlib.sha256(self.callback_secret.encode()).digest()
        signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        headers = {"Content-Type": "application/json", "x-content-signature": signature}
        for delay in (0.0, *self.callback_retry_delays):
            time.sleep(delay)
            try:
                reply = httpx.post(delivery.url, content=body, headers=headers,
                                   timeout=self.callback_timeout)  # fmt: skip
                status: int | str = reply.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            delivery.attempts.append(status)
            if status not in RETRIED_CALLBACK_STATUSES:
                break
        with self.lock:
            self.callbacks_sent.append(delivery)


HANDLERS = {
    ("GET", "/company/companies"): "companies_list",
    ("GET", "/company/companies/count"): "companies_count",
    ("GET", "/company/companies/{id}"): "company_get",
    ("GET", "/company/contacts"): "contacts_list",
    ("GET", "/company/contacts/{id}"): "contact_get",
    ("GET", "/finance/invoices"): "invoices_list",
    ("GET", "/finance/invoices/count"): "invoices_count",
    ("GET", "/finance/invoices/{id}"): "invoice_get",
    ("PATCH", "/finance/invoices/{id}"): "invoice_patch",
    ("GET", "/finance/invoices/{parentId}/payments"): "payments_list",
    ("GET", "/finance/invoices/{parentId}/payments/{id}"): "payment_get",
    ("POST", "/finance/invoices/{parentId}/payments"): "payment_create",
    ("DELETE", "/finance/invoices/{parentId}/payments/{id}"): "payment_delete",
    ("GET", "/time/entries"): "time_entries_list",
    ("GET", "/expense/entries"): "expense_entries_list",
    ("GET", "/procurement/products"): "products_list",
    ("GET", "/finance/taxCodes"): "tax_codes_list",
    ("GET", "/finance/taxCodes/{id}"): "tax_code_get",
    ("GET", "/finance/billingTerms"): "billing_terms_list",
    ("GET", "/finance/billingTerms/{id}"): "billing_term_get",
    ("GET", "/finance/currencies"): "currencies_list",
    ("GET", "/finance/currencies/{id}"): "currency_get",
    ("GET", "/system/callbacks"): "callbacks_list",
    ("GET", "/system/callbacks/{id}"): "callback_get",
    ("POST", "/system/callbacks"): "callback_create",
    ("PUT", "/system/callbacks/{id}"): "callback_replace",
    ("PATCH", "/system/callbacks/{id}"): "callback_patch",
    ("DELETE", "/system/callbacks/{id}"): "callback_delete",
}


def cw_numbers(value: Any) -> Any:
    """Decimals as ConnectWise writes its float64 fields: `1250.5`, `100.0`, exact digits."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return Decimal(text if "." in text else f"{text}.0")
    if isinstance(value, dict):
        return {k: cw_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cw_numbers(v) for v in value]
    return value


def partial(record: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """`fields=id,company/name`: only those paths of the record (a partial response)."""
    if not fields:
        return record
    out: dict[str, Any] = {}
    for path in (p.strip() for p in fields.split(",") if p.strip()):
        value = field_value(record, path)
        if value is None:
            continue
        target = out
        parts = path.split("/")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def build(*, seed: int, port: int = 0) -> ConnectWiseSimulator:
    """The registry's entry point: the MSP's year up to today."""
    return ConnectWiseSimulator(seed=seed, port=port)
