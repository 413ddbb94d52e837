"""The Xero Accounting API over httpx: one retry loop, the limits, typed results.

The client does HTTP and returns frozen dataclasses with Decimal amounts and aware UTC
datetimes; it never imports models. Tokens come from a `TokenSource` (the caller's
stored, lock-refreshed token set).

Retries: reads are retried on connection errors, 5xx and 429. Writes are retried only
where Xero certainly did nothing (a 429, or a 401 before the refreshed token); after a
connection error or a 5xx the outcome of a write is unknown, so `OutcomeUnknown` is
raised and the caller looks the write up before sending it again.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from ledger.books.protocol import BooksError
from ledger.xero.limits import Budget, DayBudgetLow
from treasury.limits import Semaphore

API_PATH = "/api.xro/2.0"
WRITE_METHODS = ("PUT", "POST", "PATCH", "DELETE")


class XeroError(BooksError):
    """Any failure talking to Xero; `str()` is fit to show the owner."""


class AuthorizationFailed(XeroError):
    """401 after a fresh token, or 403: the connection must be renewed or fixed."""


class RateLimited(XeroError):
    """A 429 Bulwark will not wait out now (the day's limit, or a long Retry-After)."""

    def __init__(self, problem: str, retry_after: int) -> None:
        self.problem, self.retry_after = problem, retry_after
        super().__init__(f"Xero's {problem} limit is reached; retry in {retry_after} s")


class ValidationFailed(XeroError):
    def __init__(self, messages: list[str], elements: list[dict[str, Any]]) -> None:
        self.messages, self.elements = messages, elements
        super().__init__("; ".join(messages) or "Xero refused the request")


class NotFound(XeroError):
    """404: the resource is not in the organisation (Xero says so in plain text)."""


class OutcomeUnknown(XeroError):
    """A write's reply was lost: Xero may or may not have done it."""


class Unavailable(XeroError):
    """Xero kept failing (connection errors or 5xx) after the retries."""


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def refreshed(self, failed_token: str) -> str: ...


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    code: str
    name: str
    type: str
    status: str
    currency: str


@dataclass(frozen=True)
class TaxRateInfo:
    tax_type: str
    name: str
    status: str


@dataclass(frozen=True)
class TrackingInfo:
    """One option of a tracking category (a category without options gives none)."""

    category_id: str
    category: str
    option_id: str
    option: str
    status: str  # ACTIVE unless the category or the option is archived


@dataclass(frozen=True)
class OrganisationInfo:
    organisation_id: str
    name: str
    base_currency: str
    multicurrency_allowed: bool


@dataclass(frozen=True)
class ElementResult:
    """One element of a batch write, in request order."""

    ok: bool
    remote_id: str
    reference: str
    errors: tuple[str, ...]
    currency_rate: Decimal | None
    total: Decimal | None


@dataclass(frozen=True)
class BankDocument:
    """A read-back document on one bank account; `amount` is signed (+ money in)."""

    kind: str  # BANK_TRANSACTION, BANK_TRANSFER, PAYMENT
    remote_id: str
    side: str
    remote_type: str
    bank_account_id: str
    date: date
    amount: Decimal
    currency: str
    reference: str
    contact_name: str
    status: str
    is_reconciled: bool
    updated_at: datetime
    currency_rate: Decimal | None
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class AttachmentInfo:
    attachment_id: str
    file_name: str
    mime_type: str
    size: int


@dataclass(frozen=True)
class BankSummaryRow:
    account_id: str
    name: str
    opening: Decimal
    received: Decimal
    spent: Decimal
    closing: Decimal


@dataclass(frozen=True)
class Page:
    documents: list[BankDocument]
    more: bool


_MS_DATE = re.compile(r"/Date\((-?\d+)")
MONEY_IN_PAYMENTS = (
    "ACCRECPAYMENT",
    "APCREDITPAYMENT",
    "APOVERPAYMENTPAYMENT",
    "APPREPAYMENTPAYMENT",
)


def ms_datetime(value: Any) -> datetime | None:
    match = _MS_DATE.search(value) if isinstance(value, str) else None
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


def xero_date(value: Any) -> date | None:
    moment = ms_datetime(value)
    if moment is not None:
        return moment.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


class XeroClient:
    def __init__(
        self,
        *,
        tokens: TokenSource,
        tenant_id: str | None,
        base_url: str,
        timeout: float,
        slots: Semaphore,
        budget: Budget,
        max_wait_seconds: float = 65.0,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.tokens, self.tenant_id = tokens, tenant_id
        self.slots, self.budget = slots, budget
        self.max_wait, self.attempts, self.sleep = max_wait_seconds, attempts, sleep
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> XeroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the one request loop ----------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One call with the retries; `body` is sent as JSON, `content` (a file) as
        `application/octet-stream`."""
        write = method.upper() in WRITE_METHODS
        token = self.tokens.access_token()
        refreshed = False
        for attempt in range(1, self.attempts + 1):
            self.budget.before_call(self.sleep)
            request_headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                **(headers or {}),
            }
            if self.tenant_id:
                request_headers["xero-tenant-id"] = self.tenant_id
            if body is not None:
                # Xero reads a body by its Content-Type and takes XML without one: a JSON
                # body sent bare is refused (400 PostDataInvalidException, in XML).
                request_headers["Content-Type"] = "application/json"
            elif content is not None:
                request_headers["Content-Type"] = "application/octet-stream"
            try:
                with self.slots.slot():
                    response = self.http.request(
                        method,
                        path,
                        params=params,
                        headers=request_headers,
                        content=content if body is None else _dumps(body),
                    )
            except httpx.TransportError as exc:
                if write:
                    raise OutcomeUnknown(f"No reply from Xero to {method} {path}: {exc!r}") from exc
                if attempt == self.attempts:
                    raise Unavailable(f"Xero did not answer {method} {path}: {exc!r}") from exc
                self._backoff(attempt)
                continue
            self.budget.after_reply(response.headers)
            status = response.status_code
            if status == 401 and not refreshed:
                token, refreshed = self.tokens.refreshed(token), True
                continue
            if status == 429:
                self._rate_limited(response)
                continue
            if status >= 500:
                if write:
                    raise OutcomeUnknown(f"Xero answered {status} to {method} {path}")
                if attempt == self.attempts:
                    raise Unavailable(f"Xero answered {status} to {method} {path}")
                self._backoff(attempt)
                continue
            return self._result(response, method, path)
        raise Unavailable(f"Xero kept refusing {method} {path}")

    def _rate_limited(self, response: httpx.Response) -> None:
        self.budget.retries_429 += 1
        problem = response.headers.get("X-Rate-Limit-Problem", "minute")
        retry_after = int(response.headers.get("Retry-After") or 1)
        if problem == "day":
            raise DayBudgetLow(0, retry_after)
        if problem == "minute":
            self.budget.throttled(retry_after)
        if retry_after > self.max_wait:
            raise RateLimited(problem, retry_after)
        self.budget.waited_seconds += retry_after
        self.sleep(retry_after)

    def _backoff(self, attempt: int) -> None:
        self.sleep(min(0.2 * 2**attempt, 5.0) * (0.5 + random.random()))  # noqa: S311 - jitter

    @staticmethod
    def _result(response: httpx.Response, method: str, path: str) -> Any:
        """The reply's data, or its typed error. The status decides first: Xero answers a
        missing resource in plain text, some 400s in XML (`ApiException`) and some
        errors with no body at all, so the body is read for what the status says."""
        status = response.status_code
        if status < 400:
            if status == 204 or not response.content:
                return None
            try:
                return json.loads(response.content, parse_float=Decimal)
            except ValueError as exc:
                raise Unavailable(f"Xero sent an unreadable reply to {method} {path}") from exc
        error = _error_body(response)
        if status in (401, 403):
            detail = error.detail or ("forbidden" if status == 403 else "unauthorized")
            raise AuthorizationFailed(f"Xero refused access ({status}: {detail})")
        if status == 404:
            raise NotFound(f"Not found in Xero: {method} {path}")
        if status == 400:
            raise ValidationFailed(error.messages or ["Xero refused the request (400)"],
                                   error.elements)  # fmt: skip
        raise XeroError(f"Xero answered {status} to {method} {path}: {error.detail}".rstrip(": "))

    # --- settings ------------------------------------------------------------------------

    def organisation(self) -> OrganisationInfo:
        org = self.request("GET", f"{API_PATH}/Organisation")["Organisations"][0]
        actions = self.request("GET", f"{API_PATH}/Organisation/Actions").get("Actions", [])
        allowed = any(
            a.get("Name") == "UseMulticurrency" and a.get("Status") == "ALLOWED" for a in actions
        )
        return OrganisationInfo(
            str(org["OrganisationID"]).lower(), org["Name"], org["BaseCurrency"], allowed
        )

    def currencies(self) -> list[str]:
        return [c["Code"] for c in self.request("GET", f"{API_PATH}/Currencies")["Currencies"]]

    def currency_add(self, code: str) -> None:
        self.request("PUT", f"{API_PATH}/Currencies", body={"Code": code})

    def accounts(self) -> list[AccountInfo]:
        rows = self.request("GET", f"{API_PATH}/Accounts")["Accounts"]
        return [_account(row) for row in rows]

    def tax_rates(self) -> list[TaxRateInfo]:
        rows = self.request("GET", f"{API_PATH}/TaxRates")["TaxRates"]
        return [
            TaxRateInfo(str(r["TaxType"]), str(r.get("Name") or ""), str(r.get("Status") or ""))
            for r in rows
        ]

    def tracking_options(self) -> list[TrackingInfo]:
        rows = self.request("GET", f"{API_PATH}/TrackingCategories")["TrackingCategories"]
        found = []
        for category in rows:
            for option in category.get("Options") or []:
                active = category.get("Status") == "ACTIVE" and option.get("Status") == "ACTIVE"
                found.append(
                    TrackingInfo(
                        str(category["TrackingCategoryID"]).lower(), str(category["Name"]),
                        str(option["TrackingOptionID"]).lower(), str(option["Name"]),
                        "ACTIVE" if active else "ARCHIVED",
                    )
                )  # fmt: skip
        return found

    def account_create(
        self, *, code: str, name: str, type_: str, currency: str, bank_account_number: str = ""
    ) -> AccountInfo:
        body = {"Code": code, "Name": name, "Type": type_, "CurrencyCode": currency}
        if bank_account_number:
            body["BankAccountNumber"] = bank_account_number
        return _account(self.request("PUT", f"{API_PATH}/Accounts", body=body)["Accounts"][0])

    # --- attachments ---------------------------------------------------------------------

    def account_attachments(self, account_id: str) -> list[AttachmentInfo]:
        data = self.request("GET", f"{API_PATH}/Accounts/{account_id}/Attachments")
        return [_attachment(row) for row in (data or {}).get("Attachments", [])]

    def account_attachment_put(
        self, account_id: str, *, file_name: str, data: bytes, idempotency_key: str
    ) -> AttachmentInfo:
        """Attach a file to an account (Xero replaces a file of the same name there)."""
        reply = self.request(
            "PUT",
            f"{API_PATH}/Accounts/{account_id}/Attachments/{quote(file_name, safe='')}",
            content=data,
            headers={"Idempotency-Key": idempotency_key[:128]},
        )
        return _attachment(reply["Attachments"][0])

    # --- bank transactions -------------------------------------------------------------

    def bank_transactions_write(
        self, elements: list[dict[str, Any]], *, idempotency_key: str, update: bool
    ) -> list[ElementResult]:
        """PUT (create) or POST (update) one batch with per-element errors."""
        data = self.request(
            "POST" if update else "PUT",
            f"{API_PATH}/BankTransactions",
            params={"summarizeErrors": "false"},
            body={"BankTransactions": elements},
            headers={"Idempotency-Key": idempotency_key},
        )
        return [_element_result(row) for row in data.get("BankTransactions", [])]

    def bank_transactions_by_reference(self, references: Iterable[str]) -> dict[str, ElementResult]:
        """Non-deleted bank transactions whose Reference is one of `references`."""
        refs = sorted(set(references))
        found: dict[str, ElementResult] = {}
        for start in range(0, len(refs), 40):
            where = " OR ".join(f'Reference=="{ref}"' for ref in refs[start : start + 40])
            page = 1
            while True:
                data = self.request(
                    "GET", f"{API_PATH}/BankTransactions", params={"where": where, "page": page}
                )
                for row in data.get("BankTransactions", []):
                    if row.get("Status") != "DELETED":
                        found[row.get("Reference", "")] = _element_result(row)
                if page >= (data.get("pagination") or {}).get("pageCount", 1):
                    break
                page += 1
        return found

    def bank_transactions_page(
        self, *, since: datetime | None, page: int, page_size: int = 100
    ) -> Page:
        data = self.request(
            "GET",
            f"{API_PATH}/BankTransactions",
            params={"page": page, "pageSize": page_size, "order": "UpdatedDateUTC ASC"},
            headers=_since_header(since),
        )
        rows = data.get("BankTransactions", [])
        pagination = data.get("pagination") or {}
        return Page([_bank_transaction(r) for r in rows], page < pagination.get("pageCount", 1))

    def bank_transfers(self, *, since: datetime | None) -> list[BankDocument]:
        data = self.request(
            "GET",
            f"{API_PATH}/BankTransfers",
            params={"includeDeleted": "true", "order": "UpdatedDateUTC ASC"},
            headers=_since_header(since),
        )
        rows = data.get("BankTransfers", [])
        legs = self._transfer_legs(rows)
        documents = []
        for row in rows:
            documents.extend(_bank_transfer_sides(row, legs))
        return documents

    def _transfer_legs(self, transfers: list[dict[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """The bank transactions behind each transfer's two sides, by id.

        A transfer has one `Amount` (the From side's), but one made in Xero's UI between
        accounts of two currencies moves a different amount on each: Xero books each
        side as its own bank transaction (SPEND-TRANSFER, RECEIVE-TRANSFER, with its
        account's currency and total), named by `FromBankTransactionID` and
        `ToBankTransactionID`. Those are read, 40 to a call, so each side gets its own
        amount and currency."""
        ids = sorted(
            {
                str(row[key]).lower()
                for row in transfers
                for key in ("FromBankTransactionID", "ToBankTransactionID")
                if row.get(key)
            }
        )
        legs: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(ids), 40):
            where = " OR ".join(f'BankTransactionID==Guid("{i}")' for i in ids[start : start + 40])
            data = self.request("GET", f"{API_PATH}/BankTransactions", params={"where": where})
            for row in data.get("BankTransactions", []):
                legs[str(row.get("BankTransactionID") or "").lower()] = row
        return legs

    def payments_page(self, *, since: datetime | None, page: int, page_size: int = 100) -> Page:
        data = self.request(
            "GET",
            f"{API_PATH}/Payments",
            params={"page": page, "pageSize": page_size, "order": "UpdatedDateUTC ASC"},
            headers=_since_header(since),
        )
        pagination = data.get("pagination") or {}
        return Page(
            [_payment(r) for r in data.get("Payments", [])], page < pagination.get("pageCount", 1)
        )

    def bank_summary(self, *, start: date, end: date) -> list[BankSummaryRow]:
        data = self.request(
            "GET",
            f"{API_PATH}/Reports/BankSummary",
            params={"fromDate": start.isoformat(), "toDate": end.isoformat()},
        )
        rows = []
        for report in data.get("Reports", []):
            for section in report.get("Rows", []):
                for row in section.get("Rows", []) if section.get("RowType") == "Section" else []:
                    if row.get("RowType") != "Row":
                        continue
                    cells = row["Cells"]
                    account_id = next(
                        (
                            a["Value"]
                            for a in cells[0].get("Attributes", [])
                            if a.get("Id") == "accountID"
                        ),
                        "",
                    )
                    opening, received, spent, closing = (
                        Decimal(str(c["Value"]).replace(",", "")) for c in cells[1:5]
                    )
                    rows.append(
                        BankSummaryRow(
                            account_id.lower(), cells[0]["Value"], opening, received, spent, closing
                        )
                    )
        return rows


@dataclass(frozen=True)
class _ErrorBody:
    messages: list[str]
    elements: list[dict[str, Any]]
    detail: str


def _error_body(response: httpx.Response) -> _ErrorBody:
    """What an error reply says, whatever its form: Xero's JSON (a ValidationException
    with its elements' messages, or a problem body's Detail), its XML ApiException,
    plain text, or nothing."""
    content = response.content.strip()
    if not content:
        return _ErrorBody([], [], "")
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content.startswith(b"<") and "html" not in media:
        return _xml_error(content)
    try:
        data = json.loads(content, parse_float=Decimal)
    except ValueError:
        text = content.decode("utf-8", "replace")[:500]
        return _ErrorBody([text], [], text)
    if not isinstance(data, dict):
        return _ErrorBody([], [], str(data)[:500])
    elements = [e for e in data.get("Elements") or [] if isinstance(e, dict)]
    messages = [str(e.get("Message")) for el in elements for e in el.get("ValidationErrors") or []]
    detail = str(data.get("Detail") or data.get("Message") or data.get("Title") or "")
    return _ErrorBody(messages or ([detail] if detail else []), elements, detail)


def _xml_error(content: bytes) -> _ErrorBody:
    try:
        root = ElementTree.fromstring(content)
    except (ParseError, DefusedXmlException, ValueError):
        text = content.decode("utf-8", "replace")[:500]
        return _ErrorBody([text], [], text)
    messages = [m.text.strip() for m in root.iter("Message") if m.text and m.text.strip()]
    # The envelope's own Message first; the elements' ValidationErrors after it.
    detail = (root.findtext("Message") or "").strip()
    validation = [
        (m.text or "").strip() for m in root.iter("ValidationError") for m in m.iter("Message")
    ]
    return _ErrorBody([v for v in validation if v] or messages, [], detail)


def _dumps(body: Any) -> bytes:
    class _Encoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, Decimal):
                return _Raw(o)
            if isinstance(o, date):
                return o.isoformat()
            return super().default(o)

    text = json.dumps(body, cls=_Encoder)
    # Decimals go on the wire as JSON numbers with their exact digits, never via float.
    return re.sub(r'"__decimal__:([-0-9.]+)"', r"\1", text).encode()


class _Raw(str):
    def __new__(cls, number: Decimal) -> _Raw:
        return super().__new__(cls, f"__decimal__:{format(number, 'f')}")


def _since_header(since: datetime | None) -> dict[str, str]:
    if since is None:
        return {}
    # RFC 3339 with its offset, as the description's `date-time` asks (its own example
    # carries one); Xero reads it as UTC either way.
    return {"If-Modified-Since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _attachment(row: Mapping[str, Any]) -> AttachmentInfo:
    return AttachmentInfo(
        attachment_id=str(row["AttachmentID"]),
        file_name=str(row.get("FileName") or ""),
        mime_type=str(row.get("MimeType") or ""),
        size=int(row.get("ContentLength") or 0),
    )


def _account(row: Mapping[str, Any]) -> AccountInfo:
    return AccountInfo(
        account_id=str(row["AccountID"]).lower(),
        code=str(row.get("Code") or ""),
        name=str(row.get("Name") or ""),
        type=str(row.get("Type") or ""),
        status=str(row.get("Status") or "ACTIVE"),
        currency=str(row.get("CurrencyCode") or ""),
    )


def _element_result(row: Mapping[str, Any]) -> ElementResult:
    errors = tuple(e.get("Message", "") for e in row.get("ValidationErrors") or [])
    ok = row.get("StatusAttributeString", "OK") != "ERROR" and not errors
    return ElementResult(
        ok=ok,
        remote_id=str(row.get("BankTransactionID") or "").lower() if ok else "",
        reference=str(row.get("Reference") or ""),
        errors=errors,
        currency_rate=_decimal(row.get("CurrencyRate")),
        total=_decimal(row.get("Total")),
    )


def _bank_transaction(row: Mapping[str, Any]) -> BankDocument:
    kind = str(row.get("Type") or "")
    sign = 1 if kind.startswith("RECEIVE") else -1
    contact = row.get("Contact") or {}
    return BankDocument(
        kind="BANK_TRANSACTION",
        remote_id=str(row["BankTransactionID"]).lower(),
        side="",
        remote_type=kind,
        bank_account_id=str(row["BankAccount"]["AccountID"]).lower(),
        date=xero_date(row.get("Date")) or date.min,
        amount=sign * Decimal(str(row["Total"])),
        currency=str(row.get("CurrencyCode") or ""),
        reference=str(row.get("Reference") or ""),
        contact_name=str(contact.get("Name") or ""),
        status=str(row.get("Status") or ""),
        is_reconciled=bool(row.get("IsReconciled")),
        updated_at=ms_datetime(row.get("UpdatedDateUTC")) or datetime.now(tz=UTC),
        currency_rate=_decimal(row.get("CurrencyRate")),
        raw=row,
    )


def _bank_transfer_sides(
    row: Mapping[str, Any], legs: Mapping[str, Mapping[str, Any]]
) -> list[BankDocument]:
    """The transfer's two sides, each with its own bank transaction's amount and
    currency; without that leg, the transfer's Amount (the From side's) and the account's
    own currency (the puller's default)."""
    amount = Decimal(str(row["Amount"]))
    sides = []
    for side, account_key, sign in (("FROM", "FromBankAccount", -1), ("TO", "ToBankAccount", 1)):
        leg = legs.get(str(row.get(f"{side.title()}BankTransactionID") or "").lower()) or {}
        total = _decimal(leg.get("Total"))
        sides.append(
            BankDocument(
                kind="BANK_TRANSFER",
                remote_id=str(row["BankTransferID"]).lower(),
                side=side,
                remote_type="BANKTRANSFER",
                bank_account_id=str(row[account_key]["AccountID"]).lower(),
                date=xero_date(row.get("Date")) or date.min,
                amount=sign * (amount if total is None else total),
                currency=str(leg.get("CurrencyCode") or ""),
                reference=str(row.get("Reference") or ""),
                contact_name="",
                status=str(row.get("Status") or ""),
                is_reconciled=bool(row.get(f"{side.title()}IsReconciled")),
                updated_at=ms_datetime(row.get("UpdatedDateUTC")) or datetime.now(tz=UTC),
                currency_rate=_decimal(row.get("CurrencyRate")),
                raw=row,
            )
        )
    return sides


def _payment(row: Mapping[str, Any]) -> BankDocument:
    kind = str(row.get("PaymentType") or "")
    sign = 1 if kind in MONEY_IN_PAYMENTS else -1
    amount = Decimal(
        str(row.get("BankAmount") if row.get("BankAmount") is not None else row["Amount"])
    )
    invoice = row.get("Invoice") or {}
    return BankDocument(
        kind="PAYMENT",
        remote_id=str(row["PaymentID"]).lower(),
        side="",
        remote_type=kind,
        bank_account_id=str(row["Account"]["AccountID"]).lower(),
        date=xero_date(row.get("Date")) or date.min,
        amount=sign * amount,
        currency="",
        reference=str(row.get("Reference") or ""),
        contact_name=str((invoice.get("Contact") or {}).get("Name") or ""),
        status=str(row.get("Status") or ""),
        is_reconciled=bool(row.get("IsReconciled")),
        updated_at=ms_datetime(row.get("UpdatedDateUTC")) or datetime.now(tz=UTC),
        currency_rate=_decimal(row.get("CurrencyRate")),
        raw=row,
    )
