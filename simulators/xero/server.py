"""A loopback fake of Xero: the login/identity service, `/connections`, and the Accounting
API endpoints Bulwark uses, with Xero's shapes, limits and failure modes.

One server plays the three hosts (`XERO_LOGIN_URL`, `XERO_IDENTITY_URL`, `XERO_API_URL`):

- **Identity**: `GET /identity/connect/authorize` (a consent page, or an immediate redirect
  with `auto_consent`), `POST /connect/token` (authorization codes with the PKCE S256
  check, 30-minute access tokens, refresh tokens that rotate on every use while the
  previous one keeps working for 30 minutes, `client_credentials` for a custom
  connection, `invalid_grant`), `POST /connect/revocation`.
- **Connections**: `GET /connections`, `DELETE /connections/{id}`.
- **Accounting** under `/api.xro/2.0`: Organisation (+Actions), Currencies, Accounts,
  BankTransactions, BankTransfers, Payments, Reports/BankSummary; `/Date()/` dates,
  `pagination`, `If-Modified-Since`, `where`/`order`, per-element `ValidationErrors` with
  `summarizeErrors=false` (else a 400 ValidationException after creating the valid
  elements, as Xero does), `Idempotency-Key` replay, 401 TokenExpired, 403 for a tenant
  the token is not connected to or a scope it lacks.
- **Limits** per organisation: 60 calls a minute, 5,000 a day, 5 in flight (all
  configurable); every reply carries `X-DayLimit-Remaining`, `X-MinLimit-Remaining` and
  `X-AppMinLimit-Remaining`; a breach is a 429 with `X-Rate-Limit-Problem` and
  `Retry-After`.

For tests and the reconciliation work: `writes` counts every write request to the
Accounting API, `script_fault` scripts the next replies of a path (a status, or
"commit then answer too late"), and `native_feed_line`, `reconcile`, `payment_seed`,
`transfer_seed` plant differences as if Wise's own feed or a person had changed the books.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import mimetypes
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote, urlencode

from simulators.base import SimRequest, SimResponse, SimulatorServer
from simulators.xero import seed
from simulators.xero.books import ISO_DESCRIPTIONS, Org, new_id
from simulators.xero.shapes import (
    NOT_FOUND,
    api_exception_xml,
    ms_date,
    parse_date,
    parse_since,
    post_data_invalid,
    problem,
    validation_exception,
    where_compile,
)

ACCESS_SECONDS = 1800
REFRESH_GRACE_SECONDS = 1800
REFRESH_IDLE_SECONDS = 60 * 24 * 3600
CODE_SECONDS = 300
API = "/api.xro/2.0"
# The granular scopes of apps created since March 2026; the two broad ones are refused.
KNOWN_SCOPES = {
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.settings",
    "accounting.settings.read",
    "accounting.contacts",
    "accounting.contacts.read",
    "accounting.banktransactions",
    "accounting.banktransactions.read",
    "accounting.payments",
    "accounting.payments.read",
    "accounting.invoices",
    "accounting.invoices.read",
    "accounting.manualjournals",
    "accounting.manualjournals.read",
    "accounting.reports.banksummary.read",
    "accounting.attachments",
}
# What the demo custom connection was authorised with (developer.xero.com "Custom
# connections": API scopes chosen when the organisation authorises it).
CUSTOM_CONNECTION_SCOPES = KNOWN_SCOPES - {"openid", "profile", "email", "offline_access"}
RETIRED_SCOPES = {
    "accounting.transactions",
    "accounting.transactions.read",
    "accounting.reports.read",
}
# Which scope (write, read) each Accounting resource needs.
RESOURCE_SCOPES = {
    "Organisation": ("accounting.settings", "accounting.settings.read"),
    "Currencies": ("accounting.settings", "accounting.settings.read"),
    "Accounts": ("accounting.settings", "accounting.settings.read"),
    "TaxRates": ("accounting.settings", "accounting.settings.read"),
    "TrackingCategories": ("accounting.settings", "accounting.settings.read"),
    "BankTransactions": ("accounting.banktransactions", "accounting.banktransactions.read"),
    "BankTransfers": ("accounting.banktransactions", "accounting.banktransactions.read"),
    "Payments": ("accounting.payments", "accounting.payments.read"),
    "Contacts": ("accounting.contacts", "accounting.contacts.read"),
    "Reports": ("accounting.reports.banksummary.read", "accounting.reports.banksummary.read"),
    # /<Resource>/<id>/Attachments/...: the attachments scopes, whatever the resource.
    "Attachments": ("accounting.attachments", "accounting.attachments.read"),
}


@dataclass
class Client:
    secret: str
    custom_tenant: str | None = None  # a custom connection's one organisation


@dataclass
class Grant:
    client_id: str
    scope: set[str]
    user: str | None  # None for a custom connection
    tenant: str | None = None  # custom connections only
    expires_at: float = 0.0


@dataclass
class RefreshGrant:
    client_id: str
    scope: set[str]
    user: str
    last_used: float
    rotated_at: float | None = None


@dataclass
class Connection:
    id: str
    tenant_id: str
    client_id: str
    user: str
    auth_event_id: str
    created: float


@dataclass
class Limits:
    minute: int = 60
    minute_seconds: float = 60.0
    day: int = 5000
    day_seconds: float = 86400.0
    concurrent: int = 5
    enabled: bool = True


@dataclass
class Window:
    started: float = 0.0
    used: int = 0


@dataclass
class OrgLoad:
    minute: Window = field(default_factory=Window)
    day: Window = field(default_factory=Window)
    in_flight: int = 0


@dataclass
class ScriptedFault:
    method: str
    path: re.Pattern[str]
    kind: str  # "status" | "late"
    status: int = 500
    remaining: int = 1
    delay: float = 0.0
    body: str = ""  # "" the status's usual body, "xml" an ApiException, "empty" none


class XeroSimulator(SimulatorServer):
    name = "xero"
    contracts = ("xero-accounting", "xero-identity", "xero-oauth")

    def __init__(
        self,
        *,
        seed_value: int = 1,
        port: int = 0,
        auto_consent: bool = False,
        latency: float = 0.0,
        idempotency_seconds: float = 360.0,
    ) -> None:
        super().__init__(port=port, seed=seed_value)
        self.auto_consent = auto_consent
        self.latency = latency
        self.idempotency_seconds = idempotency_seconds
        self.limits = Limits()
        self.clock_offset = 0.0
        self._data_init()
        self._routes_register()

    def _data_init(self) -> None:
        self.orgs: dict[str, Org] = seed.orgs_seed(self.seed)
        first = next(iter(self.orgs))
        self.clients: dict[str, Client] = {
            seed.DEMO_CLIENT_ID: Client(seed.DEMO_CLIENT_SECRET),
            seed.CUSTOM_CLIENT_ID: Client(seed.CUSTOM_CLIENT_SECRET, custom_tenant=first),
        }
        self.consent_tenants: list[str] | None = None  # None: every organisation
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, RefreshGrant] = {}
        self.connections: dict[str, Connection] = {}
        self.load: dict[str, OrgLoad] = {}
        self.idempotency: dict[tuple[str, str, str, str], tuple[float, SimResponse]] = {}
        self.scripted: list[ScriptedFault] = []
        self.writes = 0
        self.token_refreshes = 0
        self.rate_limited = 0
        self.rate_limited_by: dict[str, int] = {}  # 429s per problem: concurrent, minute, day
        self.max_in_flight = 0  # the most calls of one organisation served at once
        self.max_in_flight_asked = 0  # ... and asked for at once (refused ones too)

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self._data_init()
            self.limits = Limits()
            self.clock_offset = 0.0

    def now(self) -> float:
        return time.time() + self.clock_offset

    def _routes_register(self) -> None:
        self.route("GET", r"/identity/connect/authorize", self.authorize)
        self.route("POST", r"/identity/connect/authorize", self.authorize_consent)
        self.route("POST", r"/connect/token", self.token)
        self.route("POST", r"/connect/revocation", self.revocation)
        self.route("GET", r"/connections", self.connections_list)
        self.route("DELETE", r"/connections/(?P<connection_id>[\w-]+)", self.connection_delete)
        self.route("GET", rf"{API}/Organisation", self.organisation)
        self.route("GET", rf"{API}/Organisation/Actions", self.organisation_actions)
        self.route("GET", rf"{API}/Currencies", self.currencies)
        self.route("PUT", rf"{API}/Currencies", self.currency_put)
        self.route("GET", rf"{API}/Accounts", self.accounts_list)
        self.route("PUT", rf"{API}/Accounts", self.account_put)
        attachments = rf"{API}/Accounts/(?P<account_id>[\w-]+)/Attachments"
        self.route("GET", attachments, self.account_attachments_list)
        self.route("GET", rf"{attachments}/(?P<attachment_id>[\w-]+)", self.account_attachment_get)
        self.route("PUT", rf"{attachments}/(?P<file_name>[^/]+)", self.account_attachment_put)
        self.route("POST", rf"{attachments}/(?P<file_name>[^/]+)", self.account_attachment_put)
        self.route("GET", rf"{API}/TaxRates", self.tax_rates_list)
        self.route("GET", rf"{API}/TrackingCategories", self.tracking_categories_list)
        self.route("GET", rf"{API}/BankTransactions", self.bank_transactions_list)
        self.route("PUT", rf"{API}/BankTransactions", self.bank_transactions_put)
        self.route("POST", rf"{API}/BankTransactions", self.bank_transactions_post)
        self.route("GET", rf"{API}/BankTransactions/(?P<item_id>[\w-]+)", self.bank_transaction_get)
        self.route("GET", rf"{API}/BankTransfers", self.bank_transfers_list)
        self.route("PUT", rf"{API}/BankTransfers", self.bank_transfers_put)
        self.route("GET", rf"{API}/Payments", self.payments_list)
        self.route("GET", rf"{API}/Reports/BankSummary", self.bank_summary)

    # --- state for tests ---------------------------------------------------------------

    @property
    def tenant_ids(self) -> list[str]:
        return list(self.orgs)

    def org(self, index: int = 0) -> Org:
        return list(self.orgs.values())[index]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                **super().state(),
                "writes": self.writes,
                "token_refreshes": self.token_refreshes,
                "rate_limited": self.rate_limited,
                "rate_limited_by": dict(self.rate_limited_by),
                "max_in_flight": self.max_in_flight,
                "max_in_flight_asked": self.max_in_flight_asked,
                "organisations": {
                    org.tenant_id: {
                        "name": org.name,
                        "bank_transactions": len(org.bank_transactions),
                        "bank_transfers": len(org.bank_transfers),
                        "payments": len(org.payments),
                        "accounts": len(org.accounts),
                    }
                    for org in self.orgs.values()
                },
            }

    def limits_set(self, **values: Any) -> None:
        with self.lock:
            for name, value in values.items():
                setattr(self.limits, name, value)
            self.load.clear()

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock on (token expiry, limit windows)."""
        with self.lock:
            self.clock_offset += seconds

    def expire_access_tokens(self) -> None:
        with self.lock:
            for grant in self.access.values():
                grant.expires_at = self.now() - 1

    def script_fault(
        self,
        method: str,
        path_regex: str,
        *,
        kind: str = "status",
        status: int = 500,
        times: int = 1,
        delay: float = 0.0,
        body: str = "",
    ) -> None:
        """Script the next `times` replies to matching requests. `status`: reply `status`
        without doing anything, with its usual body, an XML `ApiException` (`body="xml"`,
        as Xero answers some 400s) or none (`body="empty"`). `late`: do the work, then
        answer after `delay` seconds (longer than the client waits), so the client
        cannot know the outcome."""
        with self.lock:
            self.scripted.append(
                ScriptedFault(
                    method.upper(), re.compile(path_regex), kind, status, times, delay, body
                )
            )

    def _scripted_response(self, fault: ScriptedFault) -> SimResponse:
        if fault.body == "empty":
            return SimResponse(status=fault.status)
        if fault.body == "xml":
            xml = api_exception_xml(
                10, "ValidationException", "A validation exception occurred",
                ("Simulated failure",),
            )  # fmt: skip
            return SimResponse.text(xml, status=fault.status, content_type="text/xml")
        return self.error_response(fault.status, "Simulated failure")

    def bank_transactions_of(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        org = self.orgs[tenant_id] if tenant_id else self.org()
        with self.lock:
            return [dict(e) for e in org.bank_transactions.values()]

    # --- hooks that plant differences (reconciliation) ---------------------------------

    def native_feed_line(
        self,
        *,
        account_code: str,
        amount: Decimal,
        day: date,
        reference: str = "",
        contact: str = "Wise",
        line_account: str = "429",
        tenant_id: str | None = None,
    ) -> str:
        """A line posted by Wise's own Xero integration: RECEIVE (amount > 0) or SPEND."""
        org = self.orgs[tenant_id] if tenant_id else self.org()
        with self.lock:
            account = org.account_by_code(account_code)
            assert account is not None, f"no account {account_code}"
            element, errors = org.bank_transaction_build(
                {
                    "Type": "RECEIVE" if amount > 0 else "SPEND",
                    "BankAccount": {"AccountID": account["AccountID"]},
                    "Contact": {"Name": contact},
                    "Date": day.isoformat(),
                    "Reference": reference,
                    "LineAmountTypes": "NoTax",
                    "LineItems": [
                        {
                            "Description": "Wise",
                            "Quantity": 1,
                            "UnitAmount": abs(amount),
                            "AccountCode": line_account,
                        }
                    ],
                },
                self.now(),
            )
            assert not errors, errors
            org.bank_transactions[element["BankTransactionID"]] = element
            return element["BankTransactionID"]

    def reconcile(self, bank_transaction_id: str, tenant_id: str | None = None) -> None:
        org = self.orgs[tenant_id] if tenant_id else self.org()
        with self.lock:
            element = org.bank_transactions[bank_transaction_id]
            element["IsReconciled"] = True
            element["UpdatedDateUTC"] = org.stamp(self.now())

    def bank_transaction_amend(
        self,
        bank_transaction_id: str,
        *,
        total: Decimal | None = None,
        day: date | None = None,
        status: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        """Change a bank transaction as a person in Xero would (amount, date, deletion)."""
        org = self.orgs[tenant_id] if tenant_id else self.org()
        with self.lock:
            element = org.bank_transactions[bank_transaction_id]
            if total is not None:
                lines = element["LineItems"]
                rest = sum((li["LineAmount"] for li in lines[1:]), Decimal(0))
                lines[0]["LineAmount"] = lines[0]["UnitAmount"] = total - rest
                element["SubTotal"] = element["Total"] = total
            if day is not None:
                element["Date"], element["DateString"] = ms_date(day), f"{day}T00:00:00"
            if status is not None:
                element["Status"] = status
            element["UpdatedDateUTC"] = org.stamp(self.now())

    def payment_seed(
        self,
        *,
        account_code: str,
        amount: Decimal,
        day: date,
        reference: str = "",
        payment_type: str = "ACCRECPAYMENT",
        tenant_id: str | None = None,
    ) -> str:
        org = self.orgs[tenant_id] if tenant_id else self.org()
        with self.lock:
            account = org.account_by_code(account_code)
            assert account is not None
            payment_id = new_id()
            org.payments[payment_id] = {
                "PaymentID": payment_id,
                "Date": ms_date(day),
                "Amount": amount,
                "BankAmount": amount,
                "CurrencyRate": Decimal("1.000000"),
                "Reference": reference,
                "PaymentType": payment_type,
                "Status": "AUTHORISED",
                "IsReconciled": False,
                "UpdatedDateUTC": org.stamp(self.now()),
                "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
                "Invoice": {
                    "InvoiceID": new_id(),
                    "InvoiceNumber": f"INV-{len(org.payments) + 1:04d}",
                    "Contact": {"ContactID": new_id(), "Name": "Customer"},
                },
            }
            return payment_id

    def transfer_seed(
        self,
        *,
        from_code: str,
        to_code: str,
        amount: Decimal,
        day: date,
        reference: str = "",
        to_amount: Decimal | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """A transfer made in Xero's UI; `to_amount` makes it cross-currency (the API
        refuses those, the UI does not)."""
        org = self.orgs[tenant_id] if tenant_id else self.org()
        with self.lock:
            source, target = org.account_by_code(from_code), org.account_by_code(to_code)
            assert source is not None
            assert target is not None
            transfer, errors = org.bank_transfer_build(
                {
                    "FromBankAccount": {"AccountID": source["AccountID"]},
                    "ToBankAccount": {"AccountID": target["AccountID"]},
                    "Amount": amount,
                    "Date": day.isoformat(),
                    "Reference": reference,
                },
                self.now(),
                to_amount=to_amount,
            )
            assert not errors, errors
            org.bank_transfers[transfer["BankTransferID"]] = transfer
            return transfer["BankTransferID"]

    def control(self, action: str, request: SimRequest) -> SimResponse:
        """`/_sim/advance`, `/_sim/limits`, `/_sim/expire`, `/_sim/fault`, `/_sim/native`."""
        body = request.json() or {}
        if action == "advance":
            self.advance(float(body.get("seconds", 0)))
        elif action == "limits":
            self.limits_set(**body)
        elif action == "expire":
            self.expire_access_tokens()
        elif action == "fault":
            self.script_fault(
                body["method"],
                body["path"],
                kind=body.get("kind", "status"),
                status=int(body.get("status", 500)),
                times=int(body.get("times", 1)),
                delay=float(body.get("delay", 0)),
                body=str(body.get("body", "")),
            )
        elif action == "native":
            bank_transaction_id = self.native_feed_line(
                account_code=body["account_code"],
                amount=Decimal(str(body["amount"])),
                day=date.fromisoformat(body["date"]),
                reference=body.get("reference", ""),
            )
            return SimResponse.json({"BankTransactionID": bank_transaction_id})
        else:
            return super().control(action, request)
        return SimResponse.json(self.state())

    # --- dispatch: auth, tenant, limits, faults -----------------------------------------

    def error_response(self, status: int, message: str) -> SimResponse:
        """Xero's error bodies by status: a plain-text 404, a ValidationException 400, the
        problem body otherwise (xero.md §8)."""
        if status == 404:
            return SimResponse.text(NOT_FOUND, status=404)
        if status == 400:
            element = {"ValidationErrors": [{"Message": message}]}
            return SimResponse.json(validation_exception([element]), status=400)
        return SimResponse.json(problem(status, "Error", message), status=status)

    # --- contracts ---------------------------------------------------------------------

    def contract_context(self, request: SimRequest) -> set[str]:
        header = request.header("authorization") or ""
        grant = self.access.get(header[7:]) if header.lower().startswith("bearer ") else None
        return {"custom-connection"} if grant is not None and grant.tenant else set()

    def contract_refusal(self, request: SimRequest, violations: list[Any]) -> SimResponse:
        """As Xero answers: the identity service with an OAuth error; the API checks the
        token first, then reads the body by its Content-Type (XML unless told JSON: an
        XML ApiException), then its JSON (ErrorNumber 14), then the tenant header."""
        if not (request.path.startswith(API) or request.path.lower().startswith("/connections")):
            return self._oauth_error("invalid_request")
        _, failure = self._authenticate(request)
        if failure is not None:
            return failure
        wheres = [v.where for v in violations]
        if "header.Content-Type" in wheres:
            body = api_exception_xml(
                14,
                "PostDataInvalidException",
                "Xml for post data was invalid, Data at the root level is invalid. "
                "Line 1, position 1.",
            )
            return SimResponse.text(body, status=400, content_type="text/xml; charset=utf-8")
        body_problems = [v for v in violations if v.where.startswith("body")]
        if body_problems:
            first = body_problems[0]
            path = first.where.removeprefix("body").strip("/").replace("/", ".")
            message = f"JSON for post data was invalid,{first.message}. Path '{path}'."
            return SimResponse.json(post_data_invalid(message), status=400)
        if any(w.lower() == "header.xero-tenant-id" for w in wheres):
            return SimResponse.json(
                problem(403, "Forbidden", "AuthenticationUnsuccessful"), status=403
            )
        return self.error_response(400, "; ".join(v.message for v in violations))

    def dispatch(self, request: SimRequest) -> SimResponse:
        if not (request.path.startswith(API) or request.path.startswith("/connections")):
            return self._identity_dispatch(request)
        grant, failure = self._authenticate(request)
        if failure is not None:
            return failure
        assert grant is not None
        if request.path.startswith("/connections"):
            return super().dispatch(request)
        tenant_id, failure = self._tenant(request, grant)
        if failure is not None:
            return failure
        assert tenant_id is not None
        failure = self._scope_check(request, grant)
        if failure is not None:
            return failure
        limited = self._admit(tenant_id)
        if limited is not None:
            return limited
        scripted = None
        try:
            if self.latency:
                time.sleep(self.latency)
            scripted = self._scripted_for(request)
            if scripted is not None and scripted.kind == "status":
                response = self._scripted_response(scripted)
            else:
                request.headers["x-sim-tenant"] = tenant_id
                response = self._idempotent(request, tenant_id)
        finally:
            with self.lock:
                self.load[tenant_id].in_flight -= 1
        response.headers.update(self._limit_headers(tenant_id))
        if scripted is not None and scripted.kind == "late":
            time.sleep(scripted.delay)
        return response

    def _identity_dispatch(self, request: SimRequest) -> SimResponse:
        scripted = self._scripted_for(request) if not request.path.startswith("/_sim/") else None
        if scripted is not None and scripted.kind == "status":
            return SimResponse.json({"error": "server_error"}, status=scripted.status)
        response = super().dispatch(request)
        if scripted is not None and scripted.kind == "late":
            time.sleep(scripted.delay)
        return response

    def _authenticate(self, request: SimRequest) -> tuple[Grant | None, SimResponse | None]:
        header = request.header("authorization") or ""
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self.lock:
            grant = self.access.get(token)
            if grant is None:
                body = problem(401, "Unauthorized", "AuthenticationUnsuccessful")
                return None, SimResponse.json(body, status=401)
            if grant.expires_at <= self.now():
                expired = datetime.fromtimestamp(grant.expires_at, tz=UTC)
                body = problem(
                    401,
                    "Unauthorized",
                    f"TokenExpired: token expired at {expired:%m/%d/%Y %H:%M:%S}",
                )
                return None, SimResponse.json(body, status=401)
        return grant, None

    def _tenant(self, request: SimRequest, grant: Grant) -> tuple[str | None, SimResponse | None]:
        forbidden = SimResponse.json(
            problem(403, "Forbidden", "AuthenticationUnsuccessful"), status=403
        )
        if grant.tenant is not None:  # a custom connection has exactly one organisation
            header = (request.header("xero-tenant-id") or grant.tenant).lower()
            return (grant.tenant, None) if header == grant.tenant else (None, forbidden)
        tenant_id = (request.header("xero-tenant-id") or "").lower()
        with self.lock:
            connected = any(
                c.tenant_id == tenant_id and c.client_id == grant.client_id and c.user == grant.user
                for c in self.connections.values()
            )
        return (tenant_id, None) if connected else (None, forbidden)

    def _scope_check(self, request: SimRequest, grant: Grant) -> SimResponse | None:
        parts = request.path[len(API) + 1 :].split("/")
        resource = "Attachments" if parts[2:3] == ["Attachments"] else parts[0]
        write, read = RESOURCE_SCOPES.get(resource, ("", ""))
        needed = {write} if request.method in ("PUT", "POST", "DELETE") else {write, read}
        if not write or needed & grant.scope:
            return None
        return SimResponse.json(problem(403, "Forbidden", "AuthorizationUnsuccessful"), status=403)

    def _admit(self, tenant_id: str) -> SimResponse | None:
        """Count the call against the organisation's windows, or refuse it with a 429."""
        with self.lock:
            load = self.load.setdefault(tenant_id, OrgLoad())
            now, limits = self.now(), self.limits
            for window, seconds in (
                (load.minute, limits.minute_seconds),
                (load.day, limits.day_seconds),
            ):
                if now - window.started >= seconds:
                    window.started, window.used = now, 0
            problem_name, retry = None, 0
            self.max_in_flight_asked = max(self.max_in_flight_asked, load.in_flight + 1)
            if limits.enabled:
                if load.in_flight >= limits.concurrent:
                    problem_name, retry = "concurrent", 1
                elif load.day.used >= limits.day:
                    problem_name = "day"
                    retry = math.ceil(load.day.started + limits.day_seconds - now)
                elif load.minute.used >= limits.minute:
                    problem_name = "minute"
                    retry = math.ceil(load.minute.started + limits.minute_seconds - now)
            if problem_name:
                self.rate_limited += 1
                self.rate_limited_by[problem_name] = self.rate_limited_by.get(problem_name, 0) + 1
                headers = {
                    **self._limit_headers(tenant_id),
                    "X-Rate-Limit-Problem": problem_name,
                    "Retry-After": str(max(retry, 1)),
                }
                body = problem(429, "Too Many Requests", f"Rate limit exceeded: {problem_name}")
                return SimResponse.json(body, status=429, headers=headers)
            load.minute.used += 1
            load.day.used += 1
            load.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, load.in_flight)
        return None

    def _limit_headers(self, tenant_id: str) -> dict[str, str]:
        with self.lock:
            load = self.load.setdefault(tenant_id, OrgLoad())
            return {
                "X-DayLimit-Remaining": str(max(self.limits.day - load.day.used, 0)),
                "X-MinLimit-Remaining": str(max(self.limits.minute - load.minute.used, 0)),
                "X-AppMinLimit-Remaining": "9999",
            }

    def _scripted_for(self, request: SimRequest) -> ScriptedFault | None:
        with self.lock:
            for fault in self.scripted:
                if fault.method == request.method and fault.path.search(request.path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.scripted.remove(fault)
                    return fault
        return None

    def _idempotent(self, request: SimRequest, tenant_id: str) -> SimResponse:
        if request.method not in ("PUT", "POST", "PATCH", "DELETE"):
            return super().dispatch(request)
        with self.lock:
            self.writes += 1
        key = request.header("idempotency-key")
        if not key:
            return super().dispatch(request)
        cache_key = (tenant_id, request.method, request.path, key[:128])
        with self.lock:
            now = self.now()
            self.idempotency = {
                k: v for k, v in self.idempotency.items() if v[0] > now
            }  # an expired key is forgotten, as Xero's short-lived cache does
            cached = self.idempotency.get(cache_key)
            if cached is not None:
                return SimResponse(cached[1].status, cached[1].body, dict(cached[1].headers))
            response = super().dispatch(request)
            if response.status < 500:
                self.idempotency[cache_key] = (now + self.idempotency_seconds, response)
            return response

    # --- identity ------------------------------------------------------------------------

    def _client_auth(self, request: SimRequest, form: dict[str, str]) -> str | None:
        header = request.header("authorization") or ""
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None
        return client_id

    def authorize(self, request: SimRequest) -> SimResponse:
        client_id = request.arg("client_id") or ""
        redirect_uri = request.arg("redirect_uri") or ""
        if client_id not in self.clients or not redirect_uri:
            return SimResponse.text(
                "unauthorized_client: unknown client or redirect URI", status=400
            )
        scope = set((request.arg("scope") or "").split())
        state = request.arg("state") or ""
        if scope & RETIRED_SCOPES or not scope <= KNOWN_SCOPES:
            return self._redirect(redirect_uri, error="invalid_scope", state=state)
        if request.arg("response_type") != "code":
            return self._redirect(redirect_uri, error="unsupported_response_type", state=state)
        pending = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "challenge": request.arg("code_challenge"),
            "method": request.arg("code_challenge_method"),
        }
        if self.auto_consent:
            return self._consent_grant(pending)
        ticket = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[f"ticket:{ticket}"] = pending
        names = ", ".join(html.escape(org.name) for org in self._consented_orgs())
        page = (
            "<!doctype html><title>Xero (simulator) · Allow access</title>"
            "<h1>Bulwark wants to access your Xero organisation</h1>"
            f"<p>Organisations: {names}</p><p>Scopes: {html.escape(' '.join(sorted(scope)))}</p>"
            '<form method="post" action="/identity/connect/authorize">'
            f'<input type="hidden" name="ticket" value="{ticket}">'
            '<button name="consent" value="allow">Allow access</button> '
            '<button name="consent" value="deny">Cancel</button></form>'
        )
        return SimResponse.text(page, content_type="text/html; charset=utf-8")

    def authorize_consent(self, request: SimRequest) -> SimResponse:
        form = request.form()
        with self.lock:
            pending = self.codes.pop(f"ticket:{form.get('ticket', '')}", None)
        if pending is None:
            return SimResponse.text("This consent request has expired.", status=400)
        if form.get("consent") != "allow":
            return self._redirect(
                pending["redirect_uri"], error="access_denied", state=pending["state"]
            )
        return self._consent_grant(pending)

    def _consented_orgs(self) -> list[Org]:
        ids = self.consent_tenants or list(self.orgs)
        return [self.orgs[tenant_id] for tenant_id in ids]

    def _consent_grant(self, pending: dict[str, Any]) -> SimResponse:
        code = secrets.token_urlsafe(24)
        auth_event = new_id()
        with self.lock:
            self.codes[code] = {**pending, "expires": self.now() + CODE_SECONDS}
            for org in self._consented_orgs():
                existing = [
                    c
                    for c in self.connections.values()
                    if c.tenant_id == org.tenant_id and c.client_id == pending["client_id"]
                ]
                if not existing:
                    connection = Connection(
                        new_id(),
                        org.tenant_id,
                        pending["client_id"],
                        "demo-user",
                        auth_event,
                        self.now(),
                    )
                    self.connections[connection.id] = connection
        return self._redirect(pending["redirect_uri"], code=code, state=pending["state"])

    @staticmethod
    def _redirect(uri: str, **params: str) -> SimResponse:
        separator = "&" if "?" in uri else "?"
        query = urlencode({k: v for k, v in params.items() if v})
        return SimResponse(status=302, headers={"Location": f"{uri}{separator}{query}"})

    def _oauth_error(self, error: str, status: int = 400) -> SimResponse:
        return SimResponse.json({"error": error}, status=status)

    def _tokens_issue(
        self, client_id: str, scope: set[str], user: str | None, tenant: str | None = None
    ) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        self.access[access] = Grant(client_id, scope, user, tenant, self.now() + ACCESS_SECONDS)
        reply: dict[str, Any] = {
            "access_token": access,
            "expires_in": ACCESS_SECONDS,
            "token_type": "Bearer",
            "scope": " ".join(sorted(scope)),
        }
        if user is not None and "offline_access" in scope:
            refresh = secrets.token_urlsafe(32)
            self.refresh[refresh] = RefreshGrant(client_id, scope, user, self.now())
            reply["refresh_token"] = refresh
        if "openid" in scope:
            reply["id_token"] = f"simulated.{secrets.token_urlsafe(16)}.idtoken"
        return reply

    def token(self, request: SimRequest) -> SimResponse:
        form = request.form()
        client_id = self._client_auth(request, form)
        if client_id is None:
            return self._oauth_error("invalid_client")
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                return self._code_exchange(client_id, form)
            if grant_type == "refresh_token":
                return self._refresh_exchange(client_id, form.get("refresh_token", ""))
            if grant_type == "client_credentials":
                tenant = self.clients[client_id].custom_tenant
                if tenant is None:
                    return self._oauth_error("unauthorized_client")
                # A custom connection holds the API scopes it was authorised with; the
                # request may narrow them. It has no refresh token and no user, so
                # offline_access and the OpenID scopes are not among them.
                asked = set(form.get("scope", "").split())
                if asked - CUSTOM_CONNECTION_SCOPES:
                    return self._oauth_error("invalid_scope")
                scope = asked or CUSTOM_CONNECTION_SCOPES
                return SimResponse.json(self._tokens_issue(client_id, scope, None, tenant))
        return self._oauth_error("unsupported_grant_type")

    def _code_exchange(self, client_id: str, form: dict[str, str]) -> SimResponse:
        pending = self.codes.pop(form.get("code", ""), None)
        if pending is None or pending["expires"] < self.now() or pending["client_id"] != client_id:
            return self._oauth_error("invalid_grant")
        if pending["redirect_uri"] != form.get("redirect_uri"):
            return self._oauth_error("invalid_grant")
        if pending["challenge"]:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if pending["method"] != "S256" or not secrets.compare_digest(
                expected, pending["challenge"]
            ):
                return self._oauth_error("invalid_grant")
        return SimResponse.json(self._tokens_issue(client_id, pending["scope"], "demo-user"))

    def _refresh_exchange(self, client_id: str, token: str) -> SimResponse:
        grant = self.refresh.get(token)
        now = self.now()
        if grant is None or grant.client_id != client_id:
            return self._oauth_error("invalid_grant")
        if grant.rotated_at is not None and now - grant.rotated_at > REFRESH_GRACE_SECONDS:
            return self._oauth_error("invalid_grant")
        if now - grant.last_used > REFRESH_IDLE_SECONDS:
            return self._oauth_error("invalid_grant")
        if grant.rotated_at is None:
            grant.rotated_at = now  # the old token keeps working for the grace period
        self.token_refreshes += 1
        return SimResponse.json(self._tokens_issue(client_id, grant.scope, grant.user))

    def revocation(self, request: SimRequest) -> SimResponse:
        form = request.form()
        client_id = self._client_auth(request, form)
        if client_id is None:
            return self._oauth_error("invalid_client")
        with self.lock:
            grant = self.refresh.pop(form.get("token", ""), None)
            if grant is not None:
                for connection_id, connection in list(self.connections.items()):
                    if connection.client_id == client_id and connection.user == grant.user:
                        del self.connections[connection_id]
        return SimResponse(status=200)

    def connections_list(self, request: SimRequest) -> SimResponse:
        grant, _ = self._authenticate(request)
        assert grant is not None
        with self.lock:
            rows = [
                {
                    "id": c.id,
                    "authEventId": c.auth_event_id,
                    "tenantId": c.tenant_id,
                    "tenantType": "ORGANISATION",
                    "tenantName": self.orgs[c.tenant_id].name,
                    "createdDateUtc": _iso(c.created),
                    "updatedDateUtc": _iso(c.created),
                }
                for c in self.connections.values()
                if c.client_id == grant.client_id and c.user == grant.user
            ]
        return SimResponse.json(rows)

    def connection_delete(self, request: SimRequest, connection_id: str) -> SimResponse:
        grant, _ = self._authenticate(request)
        assert grant is not None
        with self.lock:
            connection = self.connections.get(connection_id)
            if connection is None or connection.client_id != grant.client_id:
                return SimResponse(status=404)
            del self.connections[connection_id]
        return SimResponse(status=204)

    # --- accounting ----------------------------------------------------------------------

    def _org(self, request: SimRequest) -> Org:
        return self.orgs[request.headers["x-sim-tenant"]]

    def _envelope(self, **payload: Any) -> dict[str, Any]:
        return {
            "Id": new_id(),
            "Status": "OK",
            "ProviderName": "Bulwark",
            "DateTimeUTC": ms_date(datetime.fromtimestamp(self.now(), tz=UTC)),
            **payload,
        }

    def organisation(self, request: SimRequest) -> SimResponse:
        return SimResponse.json(self._envelope(Organisations=[self._org(request).organisation()]))

    def organisation_actions(self, request: SimRequest) -> SimResponse:
        return SimResponse.json(self._envelope(Actions=self._org(request).actions()))

    def currencies(self, request: SimRequest) -> SimResponse:
        org = self._org(request)
        rows = [
            {"Code": code, "Description": ISO_DESCRIPTIONS.get(code, code)}
            for code in org.currencies
        ]
        return SimResponse.json(self._envelope(Currencies=rows))

    def currency_put(self, request: SimRequest) -> SimResponse:
        body = request.json() or {}
        item = (body.get("Currencies") or [body])[0]
        with self.lock:
            errors = self._org(request).currency_add(item.get("Code", ""), item.get("Description"))
        if errors:
            return self._validation(item, errors)
        code = item["Code"].upper()
        return SimResponse.json(
            self._envelope(Currencies=[{"Code": code, "Description": ISO_DESCRIPTIONS[code]}])
        )

    def _validation(self, item: dict[str, Any], errors: list[str]) -> SimResponse:
        element = {**item, "ValidationErrors": [{"Message": m} for m in errors]}
        return SimResponse.json(validation_exception([element]), status=400)

    def _filtered(
        self, request: SimRequest, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | SimResponse:
        try:
            predicate = where_compile(request.arg("where"))
        except ValueError as exc:
            return self._validation({}, [str(exc)])
        since = parse_since(request.header("if-modified-since"))
        out = []
        for row in rows:
            if since is not None:
                updated = _ms(row.get("UpdatedDateUTC"))
                if updated is None or updated <= since.timestamp() * 1000:
                    continue
            if predicate(row):
                out.append(row)
        order = (request.arg("order") or "").split()
        if order:
            key = order[0]
            out.sort(
                key=lambda r: _sort_value(r.get(key)),
                reverse=len(order) > 1 and order[1].upper() == "DESC",
            )
        return out

    def _paged(self, request: SimRequest, rows: list[dict[str, Any]], name: str) -> SimResponse:
        try:
            page = max(int(request.arg("page") or 1), 1)
            size = min(max(int(request.arg("pageSize") or 100), 1), 1000)
        except ValueError:
            return self._validation({}, ["page and pageSize must be whole numbers"])
        chunk = rows[(page - 1) * size : page * size]
        pagination = {
            "page": page,
            "pageSize": size,
            "pageCount": math.ceil(len(rows) / size),
            "itemCount": len(rows),
        }
        return SimResponse.json(self._envelope(pagination=pagination, **{name: chunk}))

    def accounts_list(self, request: SimRequest) -> SimResponse:
        with self.lock:
            rows = self._filtered(request, list(self._org(request).accounts.values()))
        if isinstance(rows, SimResponse):
            return rows
        return SimResponse.json(self._envelope(Accounts=rows))

    def tax_rates_list(self, request: SimRequest) -> SimResponse:
        with self.lock:
            rows = self._filtered(request, self._org(request).tax_rates())
        if isinstance(rows, SimResponse):
            return rows
        return SimResponse.json(self._envelope(TaxRates=rows))

    def tracking_categories_list(self, request: SimRequest) -> SimResponse:
        with self.lock:
            rows = self._filtered(request, self._org(request).tracking_categories())
        if isinstance(rows, SimResponse):
            return rows
        return SimResponse.json(self._envelope(TrackingCategories=rows))

    def account_put(self, request: SimRequest) -> SimResponse:
        body = request.json() or {}
        item = (body.get("Accounts") or [body])[0]
        with self.lock:
            account, errors = self._org(request).account_add(item, self.now())
        if errors:
            return self._validation(item, errors)
        return SimResponse.json(self._envelope(Accounts=[account]))

    # --- attachments (on accounts) --------------------------------------------------------

    def account_attachments_list(self, request: SimRequest, account_id: str) -> SimResponse:
        with self.lock:
            org = self._org(request)
            if account_id.lower() not in org.accounts:
                return self.error_response(404, NOT_FOUND)
            elements = [element for element, _ in org.attachments.get(account_id.lower(), [])]
        return SimResponse.json(self._envelope(Attachments=elements))

    def account_attachment_get(
        self, request: SimRequest, account_id: str, attachment_id: str
    ) -> SimResponse:
        with self.lock:
            files = self._org(request).attachments.get(account_id.lower(), [])
            found = next((f for f in files if f[0]["AttachmentID"] == attachment_id.lower()), None)
        if found is None:
            return self.error_response(404, NOT_FOUND)
        return SimResponse(200, found[1], {"Content-Type": "application/octet-stream"})

    def account_attachment_put(
        self, request: SimRequest, account_id: str, file_name: str
    ) -> SimResponse:
        """Attach the body to the account. As Xero does, a file of the same name on the
        same account is replaced (its AttachmentID kept), never added twice."""
        name = unquote(file_name)
        if not request.body:
            return self._validation({}, ["The attachment has no content"])
        with self.lock:
            org = self._org(request)
            if account_id.lower() not in org.accounts:
                return self.error_response(404, NOT_FOUND)
            files = org.attachments.setdefault(account_id.lower(), [])
            same = next((n for n, (e, _) in enumerate(files) if e["FileName"] == name), None)
            element = {
                "AttachmentID": files[same][0]["AttachmentID"] if same is not None else new_id(),
                "FileName": name,
                "Url": f"https://api.xero.com{API}/Accounts/{account_id.lower()}"
                f"/Attachments/{quote(name)}",
                "MimeType": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "ContentLength": len(request.body),
            }
            if same is None:
                files.append((element, request.body))
            else:
                files[same] = (element, request.body)
        return SimResponse.json(self._envelope(Attachments=[element]))

    def bank_transactions_list(self, request: SimRequest) -> SimResponse:
        with self.lock:
            rows = self._filtered(request, list(self._org(request).bank_transactions.values()))
        if isinstance(rows, SimResponse):
            return rows
        return self._paged(request, rows, "BankTransactions")

    def bank_transaction_get(self, request: SimRequest, item_id: str) -> SimResponse:
        with self.lock:
            element = self._org(request).bank_transactions.get(item_id.lower())
        if element is None:
            return self.error_response(404, NOT_FOUND)
        return SimResponse.json(self._envelope(BankTransactions=[element]))

    def bank_transactions_put(self, request: SimRequest) -> SimResponse:
        return self._bank_transactions_write(request, allow_update=False)

    def bank_transactions_post(self, request: SimRequest) -> SimResponse:
        return self._bank_transactions_write(request, allow_update=True)

    def _bank_transactions_write(self, request: SimRequest, *, allow_update: bool) -> SimResponse:
        body = request.json() or {}
        items = body.get("BankTransactions") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return self._validation({}, ["BankTransactions must be a list"])
        places = 4 if request.arg("unitdp") == "4" else 2
        summarize = (request.arg("summarizeErrors") or "true").lower() != "false"
        org, results, failed = self._org(request), [], False
        with self.lock:
            for item in items:
                item_id = str(item.get("BankTransactionID") or "").lower()
                existing = org.bank_transactions.get(item_id) if item_id else None
                if item_id and not allow_update:
                    errors = ["Use POST to update an existing bank transaction"]
                    element = dict(item)
                elif item_id:
                    errors = org.bank_transaction_update_errors(existing)
                    element = dict(item)
                    if not errors:
                        element, errors = org.bank_transaction_build(
                            item, self.now(), places, existing=existing
                        )
                else:
                    element, errors = org.bank_transaction_build(item, self.now(), places)
                if errors:
                    failed = True
                    element = {
                        **element,
                        "StatusAttributeString": "ERROR",
                        "ValidationErrors": [{"Message": m} for m in errors],
                    }
                else:
                    if existing is None:
                        org.created_count += 1
                    org.bank_transactions[element["BankTransactionID"]] = element
                    element = {**element, "StatusAttributeString": "OK"}
                results.append(element)
        if failed and summarize:
            # Xero's default: a 400 for the whole request, although the valid elements
            # were created, and without their ids.
            elements = [r for r in results if r["StatusAttributeString"] == "ERROR"]
            return SimResponse.json(validation_exception(elements), status=400)
        return SimResponse.json(self._envelope(BankTransactions=results))

    def bank_transfers_list(self, request: SimRequest) -> SimResponse:
        with self.lock:
            rows = list(self._org(request).bank_transfers.values())
            if (request.arg("includeDeleted") or "").lower() != "true":
                rows = [r for r in rows if r["Status"] != "DELETED"]
            rows = self._filtered(request, rows)
        if isinstance(rows, SimResponse):
            return rows
        return SimResponse.json(self._envelope(BankTransfers=rows))

    def bank_transfers_put(self, request: SimRequest) -> SimResponse:
        body = request.json() or {}
        items = body.get("BankTransfers") or []
        summarize = (request.arg("summarizeErrors") or "true").lower() != "false"
        org, results, failed = self._org(request), [], False
        with self.lock:
            for item in items:
                transfer, errors = org.bank_transfer_build(item, self.now())
                if errors:
                    failed = True
                    results.append(
                        {
                            **transfer,
                            "StatusAttributeString": "ERROR",
                            "ValidationErrors": [{"Message": m} for m in errors],
                        }
                    )
                else:
                    org.bank_transfers[transfer["BankTransferID"]] = transfer
                    results.append({**transfer, "StatusAttributeString": "OK"})
        if failed and summarize:
            elements = [r for r in results if r["StatusAttributeString"] == "ERROR"]
            return SimResponse.json(validation_exception(elements), status=400)
        return SimResponse.json(self._envelope(BankTransfers=results))

    def payments_list(self, request: SimRequest) -> SimResponse:
        with self.lock:
            rows = self._filtered(request, list(self._org(request).payments.values()))
        if isinstance(rows, SimResponse):
            return rows
        return self._paged(request, rows, "Payments")

    def bank_summary(self, request: SimRequest) -> SimResponse:
        today = datetime.fromtimestamp(self.now(), tz=UTC).date()
        end = parse_date(request.arg("toDate")) or today
        start = parse_date(request.arg("fromDate")) or (
            end.replace(day=1) - timedelta(days=1)
        ).replace(day=1)
        with self.lock:
            report = self._org(request).bank_summary(start, end)
        return SimResponse.json(self._envelope(Reports=[report]))


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0")


def _ms(value: Any) -> int | None:
    match = re.match(r"^/Date\((-?\d+)", value or "") if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def _sort_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("/Date("):
        return _ms(value) or 0
    if isinstance(value, dict):
        return str(value)
    return value if value is not None else ""


def build(*, seed: int, port: int = 0) -> XeroSimulator:
    """The simulator `manage.py simulators` runs: a consent page, not auto-consent."""
    return XeroSimulator(seed_value=seed, port=port)
