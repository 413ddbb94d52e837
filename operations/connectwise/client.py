"""The ConnectWise PSA (Manage) REST API over httpx: one retry loop, `Link` paging, typed
results.

The client does HTTP and returns frozen dataclasses with Decimal amounts (read straight
from the JSON text, `parse_float=Decimal`) and aware UTC datetimes; it never imports
models. Every call carries Basic `companyId+publicKey:privateKey`, the integration's
`clientId` header and an `Accept` header pinning the API version of the contract Bulwark
was built against (2025.1).

Lists are read with ConnectWise's forward-only (keyset) paging, following the `Link`
header from page to page; see `_pages`.

Retries: one loop for connection errors, 429 and 5xx (and a 200 whose body cannot be
read), with jittered exponential backoff; a 429 waits its `Retry-After` (ConnectWise:
"These responses include a Retry-After header specifying the number of seconds"). Reads,
PATCH, PUT and DELETE are retried; a POST is retried only after a 429 (ConnectWise did
nothing). After a connection error or a 5xx the outcome of a POST is unknown:
`OutcomeUnknown` is raised, and the two writes Bulwark makes resolve it themselves by
looking before they write again (`payment_create`, `callback_register`).

Payments: ConnectWise has no idempotency key. `payment_create` keys a payment by a
reference Bulwark chooses, written into the payment's `source` as `Bulwark:<reference>`
(InvoicePayment's free-text field; the contract gives it no other meaning for a payment
applied through the API). Before every POST it reads the invoice's payments and returns
the one carrying that reference if there is one, so a retry after a lost reply records
nothing twice; a payment created without the reference kept raises `ReferenceNotKept`
rather than leaving a payment no later run could recognise. Two runners must not write
the same invoice's payment at once: the caller serialises per invoice (a lease).
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from operations.connectwise.conditions import AnyOf, Clause, where

API_VERSION = "2025.1"
ACCEPT = f"application/vnd.connectwise.com+json; version={API_VERSION}"
PAGE_SIZE = 1000  # ConnectWise's hard limit per page
FORWARD_ONLY = {"pagination-type": "forward-only"}
IDS_PER_CONDITION = 50  # ids per `in (...)`, keeping the URL well under 2,000 characters
PAYMENT_SOURCE_PREFIX = "Bulwark:"
_REFERENCE = re.compile(r"^[A-Za-z0-9._:-]{1,40}$")
CLOUD_DOMAINS = ("myconnectwise.net", "connectwisedev.com")
CENT = Decimal("0.01")


# --- failures, one class each ---------------------------------------------------------------


class ConnectWiseError(Exception):
    """Any failure talking to ConnectWise; `str()` is fit to show the owner."""


class AuthenticationFailed(ConnectWiseError):
    """401 (wrong company id or keys), or a refused clientId."""


class PermissionDenied(ConnectWiseError):
    """403: the API member's security role does not allow the call."""


class NotFound(ConnectWiseError):
    """404. On the cloud's `v4_6_release` router this can also mean wrong credentials."""


@dataclass(frozen=True)
class FieldError:
    code: str
    message: str
    field: str


class ValidationFailed(ConnectWiseError):
    """400 with ConnectWise's error body: `code`, `message` and the per-field `errors`."""

    def __init__(self, code: str, message: str, errors: tuple[FieldError, ...]) -> None:
        self.code, self.message, self.errors = code, message, errors
        details = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(f"ConnectWise refused the request ({code}): {details or message}")


class RateLimited(ConnectWiseError):
    """A 429 whose Retry-After is longer than this client waits, or that kept coming."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"ConnectWise's rate limit is reached; retry in {retry_after:.0f} s")


class Unavailable(ConnectWiseError):
    """ConnectWise kept failing (connection errors, 5xx, unreadable replies)."""


class OutcomeUnknown(ConnectWiseError):
    """A POST's reply was lost: ConnectWise may or may not have done it."""


class ReferenceNotKept(ConnectWiseError):
    """ConnectWise created the payment but did not keep Bulwark's reference in `source`."""


# --- what the client returns ----------------------------------------------------------------


@dataclass(frozen=True)
class CompanyInfo:
    """`/login/companyinfo/{companyId}`: where the tenant's API lives."""

    company_id: str
    company_name: str
    codebase: str  # "v2025_1/"; "v4_6_release/" on premises
    version_code: str
    version_number: str
    is_cloud: bool


@dataclass(frozen=True)
class Reference:
    id: int | None
    name: str
    identifier: str


@dataclass(frozen=True)
class Company:
    id: int
    identifier: str
    name: str
    status: str
    currency: str
    billing_terms_id: int | None
    tax_code_id: int | None
    tax_identifier: str
    address_line1: str
    city: str
    state: str
    zip: str
    country: str
    billing_contact_id: int | None
    deleted: bool
    updated_at: datetime
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Contact:
    id: int
    company_id: int | None
    first_name: str
    last_name: str
    email: str
    title: str
    default_billing: bool
    inactive: bool
    updated_at: datetime


@dataclass(frozen=True)
class Invoice:
    id: int
    number: str
    type: str  # Agreement, CreditMemo, DownPayment, Miscellaneous, Progress, Standard
    status: str
    company: Reference
    bill_to: Reference
    date: date
    due_date: date | None
    currency: str
    billing_terms_id: int | None
    tax_code_id: int | None
    taxable: bool
    reference: str
    customer_po: str
    apply_to_type: str
    apply_to_id: int | None
    agreement: Reference | None
    project: Reference | None
    service_total: Decimal
    expense_total: Decimal
    product_total: Decimal
    agreement_amount: Decimal
    subtotal: Decimal
    sales_tax: Decimal
    total: Decimal
    payments: Decimal
    credits: Decimal
    balance: Decimal
    updated_at: datetime
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class InvoiceLine:
    """One thing billed on an invoice: a time or expense entry, a product, or the
    agreement amount of an agreement invoice (no record of its own, so `source_id` is
    the agreement's id). `amount` is what the invoice bills for it, before tax."""

    kind: str  # time, expense, product, agreement
    source_id: int
    invoice_id: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    billable_option: str  # Billable, DoNotBill, NoCharge, NoDefault
    taxable: bool | None  # a product's flag; time and expenses follow the tax code
    tax_code_id: int | None
    item: str  # product identifier, work role, expense type, agreement name
    day: date | None
    ticket_id: int | None
    project_id: int | None


@dataclass(frozen=True)
class Payment:
    id: int
    invoice_id: int
    type: str  # Payment, or Credit (a credit memo applied)
    amount: Decimal
    paid_on: date | None
    source: str
    credit_invoice_id: int | None
    applied_by: str
    updated_at: datetime


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    created: bool  # False: the payment with this reference was already there


@dataclass(frozen=True)
class TaxCode:
    id: int
    identifier: str
    description: str
    rate: Decimal  # percent at level one
    services: bool
    expenses: bool
    products: bool
    cancelled: date | None
    updated_at: datetime
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class BillingTerm:
    id: int
    name: str
    due_days: int | None
    default: bool
    updated_at: datetime
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Currency:
    id: int
    identifier: str
    code: str  # ISO 4217
    name: str
    decimals: int | None
    updated_at: datetime
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Callback:
    id: int
    url: str
    type: str
    level: str
    object_id: int | None
    description: str
    inactive: bool
    self_suppressed: bool
    member_id: int | None


# --- reading values -------------------------------------------------------------------------


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if value is None:
        return Decimal(0)
    raise Unavailable(f"ConnectWise sent {name}={value!r}, not a number")


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Unavailable(f"ConnectWise sent an unreadable date and time {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(value: Any) -> date | None:
    moment = _moment(value)
    return moment.date() if moment else None


def _updated(row: Mapping[str, Any]) -> datetime:
    moment = _moment((row.get("_info") or {}).get("lastUpdated"))
    return moment or datetime(1970, 1, 1, tzinfo=UTC)


def _ref(value: Any) -> Reference | None:
    if not isinstance(value, Mapping):
        return None
    return Reference(
        value.get("id"), str(value.get("name") or ""), str(value.get("identifier") or "")
    )


def _ref_id(value: Any) -> int | None:
    return value.get("id") if isinstance(value, Mapping) else None


def _str(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def api_root(site_url: str, codebase: str) -> str:
    """`https://api-na.myconnectwise.net/v2025_1/apis/3.0`: the cloud serves a versioned
    codebase only behind its `api-` host (developer guide, "Cloud vs Premise")."""
    parts = urlsplit(site_url.rstrip("/"))
    host = parts.netloc
    if (
        codebase.strip("/") != "v4_6_release"
        and host.endswith(CLOUD_DOMAINS)
        and not host.startswith("api-")
    ):
        host = f"api-{host}"
    return f"{parts.scheme}://{host}/{codebase.strip('/')}/apis/3.0"


def company_info_fetch(
    *,
    site_url: str,
    company_id: str,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
) -> CompanyInfo:
    """The tenant's codebase, from `GET {site}/login/companyinfo/{companyId}` (no auth)."""
    url = f"{site_url.rstrip('/')}/login/companyinfo/{quote(company_id, safe='')}"
    try:
        with httpx.Client(transport=transport, timeout=httpx.Timeout(timeout)) as http:
            response = http.get(url)
    except httpx.TransportError as exc:
        raise Unavailable(f"ConnectWise did not answer {url}: {exc!r}") from exc
    if response.status_code == 404:
        raise NotFound(f"ConnectWise knows no company {company_id!r} at {site_url}")
    if response.status_code != 200:
        raise Unavailable(f"ConnectWise answered {response.status_code} to {url}")
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        raise Unavailable(f"ConnectWise sent an unreadable reply to {url}") from exc
    codebase = str(data.get("Codebase") or "")
    if not re.match(r"^[A-Za-z0-9_.]+/?$", codebase):
        raise Unavailable(f"ConnectWise sent no usable codebase for {company_id!r}")
    return CompanyInfo(
        company_id=str(data.get("CompanyID") or company_id),
        company_name=str(data.get("CompanyName") or ""),
        codebase=codebase if codebase.endswith("/") else f"{codebase}/",
        version_code=str(data.get("VersionCode") or ""),
        version_number=str(data.get("VersionNumber") or ""),
        is_cloud=str(data.get("IsCloud")).lower() == "true",
    )


class ConnectWiseClient:
    def __init__(
        self,
        *,
        site_url: str,
        codebase: str,
        company_id: str,
        public_key: str,
        private_key: str,
        client_id: str,
        timeout: float,
        attempts: int = 5,
        max_wait_seconds: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.root = api_root(site_url, codebase)
        self.attempts, self.max_wait, self.sleep = attempts, max_wait_seconds, sleep
        token = base64.b64encode(f"{company_id}+{public_key}:{private_key}".encode()).decode()
        self.http = httpx.Client(
            base_url=self.root,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={
                "Authorization": f"Basic {token}",
                "clientId": client_id,
                "Accept": ACCEPT,
                "Content-Type": "application/json",
            },
        )
        self.calls = 0  # requests sent, retries included (for benchmarks)

    @classmethod
    def connect(cls, *, site_url: str, company_id: str, timeout: float, **options: Any
                ) -> ConnectWiseClient:  # fmt: skip
        """Discover the tenant's codebase, then a client for it."""
        info = company_info_fetch(
            site_url=site_url, company_id=company_id, timeout=timeout,
            transport=options.get("transport"),
        )  # fmt: skip
        return cls(site_url=site_url, codebase=info.codebase, company_id=company_id,
                   timeout=timeout, **options)  # fmt: skip

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ConnectWiseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the one request loop ---------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call, retried as the module docstring says; returns a 2xx response whose
        JSON body (if any) is readable, or raises the failure's class."""
        method = method.upper()
        retry_write = method != "POST"
        content = None if body is None else _dumps(body)
        for attempt in range(1, self.attempts + 1):
            self.calls += 1
            try:
                response = self.http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                if not retry_write:
                    raise OutcomeUnknown(f"No reply from ConnectWise to {method} {path}") from exc
                if attempt == self.attempts:
                    raise Unavailable(
                        f"ConnectWise did not answer {method} {path}: {exc!r}"
                    ) from exc
                self._backoff(attempt)
                continue
            status = response.status_code  # the status first; the body only when it matters
            if status == 429:
                wait = _retry_after(response)
                if wait > self.max_wait or attempt == self.attempts:
                    raise RateLimited(wait)
                self.sleep(wait + random.uniform(0, 0.5))  # noqa: S311 - jitter
                continue
            if status >= 500 or (200 <= status < 300 and not _readable(response)):
                if not retry_write:
                    raise OutcomeUnknown(f"ConnectWise answered {status} to {method} {path}")
                if attempt == self.attempts:
                    raise Unavailable(f"ConnectWise answered {status} to {method} {path}")
                self._backoff(attempt, _retry_after(response, default=0.0))
                continue
            if status >= 400:
                raise _failure(response, method, path)
            return response
        raise Unavailable(f"ConnectWise kept refusing {method} {path}")

    def _backoff(self, attempt: int, floor: float = 0.0) -> None:
        delay = min(0.25 * 2**attempt, 20.0) * (0.5 + random.random())  # noqa: S311 - jitter
        self.sleep(max(delay, floor))

    def _json(self, method: str, path: str, **options: Any) -> Any:
        response = self.request(method, path, **options)
        return json.loads(response.content, parse_float=Decimal) if response.content else None

    def _pages(self, path: str, conditions: str | None = None) -> Iterator[dict[str, Any]]:
        """Every record of a list, in id order, by ConnectWise's forward-only paging
        (`pagination-type: forward-only`: each page is `id > pageId`), following the
        `Link: <...>; rel="next"` header. Unlike page numbers, a record added, changed or
        deleted while the pages are read cannot shift another out of sight. That `Link`
        is always there; a page shorter than the page size is the last."""
        params: dict[str, Any] | None = {"pageSize": PAGE_SIZE}
        if conditions:
            params = {**params, "conditions": conditions}
        target, size, last_id = path, PAGE_SIZE, 0
        while True:
            response = self.request("GET", target, params=params, headers=FORWARD_ONLY)
            rows = json.loads(response.content, parse_float=Decimal)
            if not isinstance(rows, list):
                raise Unavailable(f"ConnectWise sent no list for {path}")
            yield from rows
            following = response.links.get("next", {}).get("url")
            if not following or len(rows) < size:
                return
            if rows[-1]["id"] <= last_id:
                raise Unavailable(f"ConnectWise's pages of {path} do not move forward")
            target, params, last_id = self._same_origin(following, path), None, rows[-1]["id"]

    def _same_origin(self, url: str, path: str) -> str:
        """A `Link` target must stay on the API the credentials belong to."""
        root, link = urlsplit(self.root), urlsplit(url)
        if (link.scheme, link.netloc) != (root.scheme, root.netloc) or not link.path.endswith(path):
            raise Unavailable(f"ConnectWise's next page points elsewhere: {url}")
        return url

    # --- companies and contacts -----------------------------------------------------------

    def companies(
        self,
        *,
        since: datetime | None = None,
        ids: Iterable[int] = (),
        identifier: str | None = None,
    ) -> list[Company]:
        """Companies changed at or after `since`, or those `ids`, or the one whose
        `identifier` (ConnectWise's company ID, as typed by a person) is given."""
        extra = where(
            _since(since),
            Clause("identifier", "=", identifier) if identifier is not None else None,
        )
        return [
            _company(row)
            for conditions in _batched(ids, extra)
            for row in self._pages("/company/companies", conditions)
        ]

    def company(self, company_id: int) -> Company:
        return _company(self._json("GET", f"/company/companies/{int(company_id)}"))

    def contacts(self, *, company_id: int | None = None, since: datetime | None = None
                 ) -> list[Contact]:  # fmt: skip
        company = Clause("company/id", "=", int(company_id)) if company_id is not None else None
        conditions = where(company, _since(since))
        return [_contact(row) for row in self._pages("/company/contacts", conditions)]

    # --- invoices and their lines -------------------------------------------------------

    def invoices(
        self, *, since: datetime | None = None, ids: Iterable[int] = (), after_id: int = 0
    ) -> list[Invoice]:
        """Invoices changed at or after `since` (all when None), or those `ids`, by id;
        with `after_id`, only those of a higher id (a pass resumed where it stopped).

        `lastUpdated` has whole seconds and a change can land in the second being read,
        so the caller keeps its cursor a little behind and takes a record read twice for
        the same record."""
        after = Clause("id", ">", int(after_id)) if after_id else None
        return [
            _invoice(row)
            for conditions in _batched(ids, where(_since(since), after))
            for row in self._pages("/finance/invoices", conditions)
        ]

    def invoice(self, invoice_id: int) -> Invoice:
        return _invoice(self._json("GET", f"/finance/invoices/{int(invoice_id)}"))

    def invoice_patch(self, invoice_id: int, changes: Mapping[str, Any]) -> Invoice:
        """Replace fields of an invoice (ConnectWise's `[{op, path, value}]` dialect, a
        reference replaced whole: `{"billingTerms": {"id": 2}}`)."""
        operations = [
            {"op": "replace", "path": name, "value": value} for name, value in changes.items()
        ]
        return _invoice(
            self._json("PATCH", f"/finance/invoices/{int(invoice_id)}", body=operations)
        )

    def invoice_lines(self, invoices: Iterable[Invoice]) -> dict[int, list[InvoiceLine]]:
        """Each invoice's lines: the time entries, expense entries and products billed on
        it (read 50 invoices per condition), and an agreement invoice's agreement amount."""
        wanted = {invoice.id: invoice for invoice in invoices}
        lines: dict[int, list[InvoiceLine]] = {invoice_id: [] for invoice_id in wanted}
        for conditions in _batched(wanted, None, field="invoice/id"):
            for row in self._pages("/time/entries", conditions):
                lines[row["invoice"]["id"]].append(_time_line(row))
            for row in self._pages("/expense/entries", conditions):
                lines[row["invoice"]["id"]].append(_expense_line(row))
            for row in self._pages("/procurement/products", conditions):
                lines[row["invoice"]["id"]].append(_product_line(row))
        for invoice_id, invoice in wanted.items():
            if invoice.agreement_amount:
                lines[invoice_id].append(_agreement_line(invoice))
        return lines

    # --- payments -------------------------------------------------------------------------

    def payments(self, invoice_id: int) -> list[Payment]:
        path = f"/finance/invoices/{int(invoice_id)}/payments"
        return [_payment(row) for row in self._pages(path)]

    def payment_create(
        self, *, invoice_id: int, amount: Decimal, paid_on: date, reference: str
    ) -> PaymentResult:
        """Record a payment on the invoice once, keyed by `reference` (see the module)."""
        if not _REFERENCE.match(reference):
            raise ValueError("a payment reference is 1-40 letters, digits or . _ : -")
        if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(CENT):
            raise ValueError(f"{amount!r} is not a positive amount in cents")
        source = f"{PAYMENT_SOURCE_PREFIX}{reference}"
        body = {
            "type": "Payment",
            "amount": amount,
            "paymentDate": paid_on.strftime("%Y-%m-%dT00:00:00Z"),
            "source": source,
        }
        path = f"/finance/invoices/{int(invoice_id)}/payments"
        for _ in range(self.attempts):
            existing = next((p for p in self.payments(invoice_id) if p.source == source), None)
            if existing is not None:
                return PaymentResult(existing, created=False)
            try:
                payment = _payment(self._json("POST", path, body=body))
            except OutcomeUnknown:
                continue  # look again: it may have been recorded
            if payment.source != source:
                raise ReferenceNotKept(
                    f"ConnectWise recorded payment {payment.id} on invoice {invoice_id} "
                    f"without Bulwark's reference; it cannot be matched on a retry"
                )
            return PaymentResult(payment, created=True)
        raise OutcomeUnknown(
            f"No reply from ConnectWise to recording {reference} on invoice {invoice_id}"
        )

    # --- setup tables -----------------------------------------------------------------------

    def tax_codes(self) -> list[TaxCode]:
        return [_tax_code(row) for row in self._pages("/finance/taxCodes")]

    def billing_terms(self) -> list[BillingTerm]:
        return [
            BillingTerm(
                row["id"],
                _str(row, "name"),
                row.get("dueDays"),
                bool(row.get("defaultFlag")),
                _updated(row),
                row,
            )
            for row in self._pages("/finance/billingTerms")
        ]

    def currencies(self) -> list[Currency]:
        return [
            Currency(
                id=row["id"],
                identifier=_str(row, "currencyIdentifier"),
                code=str(
                    (row.get("currencyCode") or {}).get("name")
                    or row.get("currencyIdentifier")
                    or ""
                ),
                name=_str(row, "name"),
                decimals=row.get("numberOfDecimals"),
                updated_at=_updated(row),
                raw=row,
            )
            for row in self._pages("/finance/currencies")
        ]

    # --- callbacks --------------------------------------------------------------------------

    def callbacks(self) -> list[Callback]:
        return [_callback(row) for row in self._pages("/system/callbacks")]

    def callback_register(
        self, *, url: str, type_: str, level: str, object_id: int = 1, description: str = ""
    ) -> Callback:
        """Register a callback once: an entry with the same URL, type, level and object is
        returned as it is. ConnectWise appends the record id to `url`, so end it with a
        query parameter awaiting it (`...?id=`). `object_id` is 1 for the `Owner` level."""

        def same(entry: Callback) -> bool:
            return (entry.url, entry.type.lower(), entry.level.lower(), entry.object_id) == (
                url, type_.lower(), level.lower(), object_id,
            )  # fmt: skip

        if len(description) > 100:
            raise ValueError("a callback's description is at most 100 characters")
        body = {"url": url, "type": type_, "level": level, "objectId": object_id,
                "description": description}  # fmt: skip
        for _ in range(self.attempts):
            existing = next((entry for entry in self.callbacks() if same(entry)), None)
            if existing is not None:
                return existing
            try:
                return _callback(self._json("POST", "/system/callbacks", body=body))
            except OutcomeUnknown:
                continue
        raise OutcomeUnknown(f"No reply from ConnectWise to registering the callback {url}")

    def callback_delete(self, callback_id: int) -> bool:
        """Remove a callback; False when it was not there (already removed)."""
        try:
            self.request("DELETE", f"/system/callbacks/{int(callback_id)}")
        except NotFound:
            return False
        return True


# --- module helpers ---------------------------------------------------------------------------


def _since(since: datetime | None) -> Clause | None:
    return Clause("_info/lastUpdated", ">=", since) if since is not None else None


def _batched(
    ids: Iterable[int], extra: Clause | str | None, *, field: str = "id"
) -> list[str | None]:
    """The conditions to read `ids` (50 per `in`), each with `extra`; all when no ids."""
    wanted = sorted({int(i) for i in ids})
    extra_text = extra.text() if isinstance(extra, Clause) else extra
    if not wanted:
        return [extra_text] if field == "id" else []
    return [
        " and ".join(
            t
            for t in (Clause(field, "in", wanted[i : i + IDS_PER_CONDITION]).text(), extra_text)
            if t
        )
        for i in range(0, len(wanted), IDS_PER_CONDITION)
    ]


def _retry_after(response: httpx.Response, default: float = 1.0) -> float:
    """Seconds to wait (ConnectWise sends whole seconds); `default` when it sends none."""
    value = response.headers.get("Retry-After", "").strip()
    return max(int(value), 0) if value.isdigit() else default


def _readable(response: httpx.Response) -> bool:
    if not response.content:
        return True
    try:
        json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return False
    return True


def _failure(response: httpx.Response, method: str, path: str) -> ConnectWiseError:
    try:
        data = json.loads(response.content, parse_float=Decimal) if response.content else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    message = str(data.get("message") or f"ConnectWise answered {response.status_code}")
    status = response.status_code
    if status == 401 or (status == 400 and "clientid" in message.lower()):
        return AuthenticationFailed(f"ConnectWise refused the credentials: {message}")
    if status == 403:
        return PermissionDenied(f"ConnectWise's security role refuses {method} {path}: {message}")
    if status == 404:
        return NotFound(f"Not found in ConnectWise: {path} ({message})")
    if status == 400:
        errors = tuple(
            FieldError(
                str(e.get("code") or ""), str(e.get("message") or ""), str(e.get("field") or "")
            )
            for e in data.get("errors") or []
            if isinstance(e, dict)
        )
        return ValidationFailed(str(data.get("code") or "BadRequest"), message, errors)
    return ConnectWiseError(f"ConnectWise answered {status} to {method} {path}: {message}")


def _dumps(body: Any) -> bytes:
    """JSON with Decimals written as numbers with their exact digits, never via float."""

    def marked(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"{_NUMBER_MARK}{format(value, 'f')}"
        if isinstance(value, Mapping):
            return {k: marked(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [marked(v) for v in value]
        return value

    text = json.dumps(marked(body))
    return re.sub(rf'"{_NUMBER_MARK}(-?[0-9]+(?:\.[0-9]+)?)"', r"\1", text).encode()


_NUMBER_MARK = "__bulwark_decimal__:"


def _company(row: Mapping[str, Any]) -> Company:
    currency = row.get("currency") or {}
    return Company(
        id=row["id"],
        identifier=_str(row, "identifier"),
        name=_str(row, "name"),
        status=str((row.get("status") or {}).get("name") or ""),
        currency=str(currency.get("currencyCode") or ""),
        billing_terms_id=_ref_id(row.get("billingTerms")),
        tax_code_id=_ref_id(row.get("taxCode")),
        tax_identifier=_str(row, "taxIdentifier"),
        address_line1=_str(row, "addressLine1"),
        city=_str(row, "city"),
        state=_str(row, "state"),
        zip=_str(row, "zip"),
        country=str((row.get("country") or {}).get("name") or ""),
        billing_contact_id=_ref_id(row.get("billingContact")),
        deleted=bool(row.get("deletedFlag")),
        updated_at=_updated(row),
        raw=row,
    )


def _contact(row: Mapping[str, Any]) -> Contact:
    emails = [
        item.get("value")
        for item in row.get("communicationItems") or []
        if isinstance(item, Mapping) and item.get("communicationType") == "Email"
    ]
    return Contact(
        id=row["id"],
        company_id=_ref_id(row.get("company")),
        first_name=_str(row, "firstName"),
        last_name=_str(row, "lastName"),
        email=str(emails[0]) if emails else "",
        title=_str(row, "title"),
        default_billing=bool(row.get("defaultBillingFlag")),
        inactive=bool(row.get("inactiveFlag")),
        updated_at=_updated(row),
    )


def _invoice(row: Mapping[str, Any]) -> Invoice:
    amount = lambda name: _decimal(row.get(name), name)  # noqa: E731
    company = _ref(row.get("company")) or Reference(None, "", "")
    day = _day(row.get("date"))
    if day is None:
        raise Unavailable(f"ConnectWise sent invoice {row.get('id')} without a date")
    return Invoice(
        id=row["id"],
        number=_str(row, "invoiceNumber"),
        type=_str(row, "type"),
        status=str((row.get("status") or {}).get("name") or ""),
        company=company,
        bill_to=_ref(row.get("billToCompany")) or company,
        date=day,
        due_date=_day(row.get("dueDate")),
        currency=str((row.get("currency") or {}).get("currencyCode") or ""),
        billing_terms_id=_ref_id(row.get("billingTerms")),
        tax_code_id=_ref_id(row.get("taxCode")),
        taxable=bool(row.get("taxableFlag")),
        reference=_str(row, "reference"),
        customer_po=_str(row, "customerPO"),
        apply_to_type=_str(row, "applyToType"),
        apply_to_id=row.get("applyToId"),
        agreement=_ref(row.get("agreement")),
        project=_ref(row.get("project")),
        service_total=amount("serviceTotal"),
        expense_total=amount("expenseTotal"),
        product_total=amount("productTotal"),
        agreement_amount=amount("agreementAmount"),
        subtotal=amount("subtotal"),
        sales_tax=amount("salesTax"),
        total=amount("total"),
        payments=amount("payments"),
        credits=amount("credits"),
        balance=amount("balance"),
        updated_at=_updated(row),
        raw=row,
    )


def _time_line(row: Mapping[str, Any]) -> InvoiceLine:
    ticket = row.get("ticket") or {}
    return InvoiceLine(
        kind="time",
        source_id=row["id"],
        invoice_id=row["invoice"]["id"],
        description=_str(row, "notes") or str(ticket.get("summary") or ""),
        quantity=_decimal(row.get("hoursBilled"), "hoursBilled"),
        unit_price=_decimal(row.get("hourlyRate"), "hourlyRate"),
        amount=_decimal(row.get("extendedInvoiceAmount"), "extendedInvoiceAmount"),
        billable_option=_str(row, "billableOption"),
        taxable=None,
        tax_code_id=_ref_id(row.get("taxCode")),
        item=str((row.get("workRole") or {}).get("name") or ""),
        day=_day(row.get("timeStart")),
        ticket_id=_ref_id(row.get("ticket")),
        project_id=_ref_id(row.get("project")),
    )


def _expense_line(row: Mapping[str, Any]) -> InvoiceLine:
    amount = _decimal(row.get("invoiceAmount"), "invoiceAmount")
    return InvoiceLine(
        kind="expense",
        source_id=row["id"],
        invoice_id=row["invoice"]["id"],
        description=_str(row, "notes"),
        quantity=Decimal(1),
        unit_price=amount,
        amount=amount,
        billable_option=_str(row, "billableOption"),
        taxable=None,
        tax_code_id=None,
        item=str((row.get("type") or {}).get("name") or ""),
        day=_day(row.get("date")),
        ticket_id=_ref_id(row.get("ticket")),
        project_id=_ref_id(row.get("project")),
    )


def _product_line(row: Mapping[str, Any]) -> InvoiceLine:
    return InvoiceLine(
        kind="product",
        source_id=row["id"],
        invoice_id=row["invoice"]["id"],
        description=_str(row, "customerDescription") or _str(row, "description"),
        quantity=_decimal(row.get("quantity"), "quantity"),
        unit_price=_decimal(row.get("price"), "price"),
        amount=_decimal(row.get("extPrice"), "extPrice"),
        billable_option=_str(row, "billableOption"),
        taxable=bool(row.get("taxableFlag")),
        tax_code_id=_ref_id(row.get("taxCode")),
        item=str((row.get("catalogItem") or {}).get("identifier") or ""),
        day=None,
        ticket_id=_ref_id(row.get("ticket")),
        project_id=_ref_id(row.get("project")),
    )


def _agreement_line(invoice: Invoice) -> InvoiceLine:
    agreement = invoice.agreement or Reference(None, "Agreement", "")
    return InvoiceLine(
        kind="agreement",
        source_id=agreement.id or 0,
        invoice_id=invoice.id,
        description=agreement.name,
        quantity=Decimal(1),
        unit_price=invoice.agreement_amount,
        amount=invoice.agreement_amount,
        billable_option="Billable",
        taxable=None,
        tax_code_id=invoice.tax_code_id,
        item=agreement.name,
        day=invoice.date,
        ticket_id=None,
        project_id=None,
    )


def _payment(row: Mapping[str, Any]) -> Payment:
    return Payment(
        id=row["id"],
        invoice_id=(row.get("invoice") or {}).get("id"),
        type=_str(row, "type"),
        amount=_decimal(row.get("amount"), "amount"),
        paid_on=_day(row.get("paymentDate")),
        source=_str(row, "source"),
        credit_invoice_id=_ref_id(row.get("credit")),
        applied_by=_str(row, "appliedBy"),
        updated_at=_updated(row),
    )


def _tax_code(row: Mapping[str, Any]) -> TaxCode:
    return TaxCode(
        id=row["id"],
        identifier=_str(row, "identifier"),
        description=_str(row, "description"),
        rate=_decimal(row.get("levelOneRate"), "levelOneRate"),
        services=bool(row.get("levelOneServicesFlag")),
        expenses=bool(row.get("levelOneExpensesFlag")),
        products=bool(row.get("levelOneProductsFlag")),
        cancelled=_day(row.get("cancelDate")),
        updated_at=_updated(row),
        raw=row,
    )


def _callback(row: Mapping[str, Any]) -> Callback:
    return Callback(
        id=row["id"],
        url=_str(row, "url"),
        type=_str(row, "type"),
        level=_str(row, "level"),
        object_id=row.get("objectId"),
        description=_str(row, "description"),
        inactive=bool(row.get("inactiveFlag")),
        self_suppressed=bool(row.get("isSelfSuppressedFlag")),
        member_id=row.get("memberId"),
    )


__all__ = [
    "AnyOf",
    "AuthenticationFailed",
    "Callback",
    "Clause",
    "ConnectWiseClient",
    "ConnectWiseError",
    "NotFound",
    "OutcomeUnknown",
    "PermissionDenied",
    "RateLimited",
    "ReferenceNotKept",
    "Unavailable",
    "ValidationFailed",
    "company_info_fetch",
]
