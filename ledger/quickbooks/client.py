"""The QuickBooks Online Accounting API (v3) over httpx: one retry loop, the limits,
typed results.

The client does HTTP and returns frozen dataclasses with Decimal amounts (parsed straight
from the JSON text, never through float) and aware UTC datetimes; it never imports
models. Tokens come from a `TokenSource` (the caller's stored, lease-refreshed tokens);
the per-company caps from a `Limiter` (an in-process one unless the caller shares one
across processes).

Every call carries `minorversion=75`. Every write carries a `requestid`, kept across
the retries of that write: QuickBooks answers a repeated `requestid` with its first
answer, so a write whose reply was lost (a cut connection, a 5xx from the gateway, a
timeout) is simply sent again and is never done twice. That is why, unlike Xero's,
this loop retries writes as it retries reads: connection errors, 429 (waiting out
`Retry-After` when sent, else backing off) and 5xx, with jittered exponential backoff.
A status is read before its body; a `Fault` becomes one typed exception.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from ledger.quickbooks.limits import Limiter, limiter_default

API_URL = "https://quickbooks.api.intuit.com"
SANDBOX_API_URL = "https://sandbox-quickbooks.api.intuit.com"
MINOR_VERSION = "75"
BATCH_MAX_ITEMS = 30
PAGE_MAX = 1000
CDC_MAX_OBJECTS = 1000
IN_LIST_MAX = 50  # values per `IN (...)` lookup, keeping the query's URL short
BANK_ACCOUNT_TYPES = ("Bank",)


class QuickBooksError(Exception):
    """Any failure talking to QuickBooks; `str()` is fit to show the owner."""


class AuthorizationFailed(QuickBooksError):
    """401 after a fresh token, or 403: the connection must be renewed."""


class RateLimited(QuickBooksError):
    """A 429 asking for a longer wait than this run takes."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"QuickBooks' request limit is reached; retry in {retry_after:.0f} s")


class Unavailable(QuickBooksError):
    """QuickBooks kept failing (no reply, 5xx, unreadable replies) after the retries. For a
    write, sending it again with `request_id` is safe."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        self.request_id = request_id
        super().__init__(message)


class MulticurrencyRequired(QuickBooksError):
    """The company has multicurrency off, so it holds nothing outside its home currency
    (and only its owner can turn it on, in QuickBooks)."""

    def __init__(self, currency: str, home: str) -> None:
        self.currency, self.home = currency, home
        super().__init__(
            f"This QuickBooks company keeps its books in {home} only: turn multicurrency on "
            f"in QuickBooks (Settings, Advanced, Currency) to hold {currency}."
        )


@dataclass(frozen=True)
class FaultError:
    code: str
    message: str
    detail: str
    element: str


class Fault(QuickBooksError):
    """QuickBooks refused the request; `errors` are its `Fault.Error` entries."""

    def __init__(self, fault_type: str, errors: tuple[FaultError, ...]) -> None:
        self.fault_type, self.errors = fault_type, errors
        text = "; ".join(f"{e.message} ({e.code}): {e.detail}".rstrip(": ") for e in errors)
        super().__init__(text or f"QuickBooks refused the request ({fault_type})")

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.errors}


class ValidationFailed(Fault):
    """A 400 ValidationFault: the request breaks a rule; sending it again will not help."""


class StaleObject(ValidationFailed):
    """5010: the entity changed since its `SyncToken` was read; read it again."""


class NotFound(ValidationFailed):
    """610 (or 404): no such entity, or it is inactive."""


class QueryRefused(ValidationFailed):
    """4000/4001: the query language refused the query."""


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def refreshed(self, failed_token: str) -> str:
        """A token other than `failed_token` (refreshing under the caller's lease)."""
        ...


@dataclass(frozen=True)
class CompanyInfo:
    realm_id: str
    name: str
    legal_name: str
    country: str
    fiscal_year_start_month: str


@dataclass(frozen=True)
class CompanySettings:
    home_currency: str
    multicurrency: bool


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    number: str
    type: str
    sub_type: str
    classification: str
    currency: str
    active: bool
    current_balance: Decimal
    current_balance_with_sub_accounts: Decimal
    sync_token: str


@dataclass(frozen=True)
class BankBalance:
    """An account's balance as QuickBooks holds it, in the account's own currency."""

    account_id: str
    name: str
    currency: str
    balance: Decimal
    balance_with_sub_accounts: Decimal
    read_at: datetime


@dataclass(frozen=True)
class Line:
    amount: Decimal
    detail_type: str
    account_id: str
    posting_type: str  # Debit or Credit on journal entry lines, else ""
    description: str


@dataclass(frozen=True)
class Entity:
    """A transaction (Purchase, Deposit, Transfer, JournalEntry, Invoice, Payment) as read
    back. `status` is "" for a live one, "Deleted" or "Voided"; a deleted one has only
    its id and `updated_at`."""

    entity: str
    id: str
    sync_token: str
    status: str
    txn_date: date | None
    doc_number: str
    private_note: str
    currency: str
    exchange_rate: Decimal | None
    total: Decimal | None  # TotalAmt; a Transfer's Amount
    home_total: Decimal | None
    account_id: str  # the bank side: AccountRef, DepositToAccountRef, FromAccountRef
    to_account_id: str  # a Transfer's ToAccountRef
    lines: tuple[Line, ...]
    updated_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class BatchItem:
    """One operation of a batch: `body` for create/update/delete/void, or a `query`."""

    bid: str
    entity: str = ""
    operation: str = "create"
    body: Mapping[str, Any] | None = None
    query: str = ""


@dataclass(frozen=True)
class BatchResult:
    bid: str
    entity: Entity | None
    rows: tuple[Mapping[str, Any], ...]  # a query item's entities
    errors: tuple[FaultError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ChangeSet:
    """What changed since a cursor (change data capture). `cursor` is where the next read
    starts; `complete` is False when QuickBooks' 1,000-object cap cut the answer short."""

    changes: list[Entity]
    cursor: datetime
    complete: bool


@dataclass(frozen=True)
class ExchangeRate:
    """Home-currency units per one unit of `source`, as QuickBooks holds them."""

    source: str
    target: str
    rate: Decimal
    as_of: date
    sync_token: str


@dataclass(frozen=True)
class Attachment:
    id: str
    file_name: str
    content_type: str
    size: int
    refs: tuple[tuple[str, str], ...]  # (entity, id)
    download_url: str


class QuickBooksClient:
    def __init__(
        self,
        *,
        tokens: TokenSource,
        realm_id: str,
        base_url: str = API_URL,
        timeout: float | httpx.Timeout = 20.0,
        limiter: Limiter | None = None,
        attempts: int = 6,
        throttle_attempts: int = 10,
        max_wait_seconds: float = 65.0,
        backoff_seconds: float = 0.5,
        backoff_cap_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.tokens, self.realm_id = tokens, realm_id
        total = timeout.read if isinstance(timeout, httpx.Timeout) else timeout
        self.limiter: Limiter = limiter or limiter_default(timeout=total or 20.0, sleep=sleep)
        self.attempts, self.throttle_attempts = attempts, throttle_attempts
        self.max_wait, self.sleep = max_wait_seconds, sleep
        self.backoff, self.backoff_cap = backoff_seconds, backoff_cap_seconds
        self.calls = self.retries = self.throttled = 0
        self._settings: CompanySettings | None = None
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> QuickBooksClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the one request loop ----------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        write: bool = False,
        batch: bool = False,
        request_id: str | None = None,
    ) -> Any:
        """`path` is relative to the company (`purchase`, `query`…). A write gets a
        `requestid` (`request_id`, or a new one) that all its retries repeat."""
        query = {**(params or {}), "minorversion": MINOR_VERSION}
        if write:
            request_id = request_id or uuid.uuid4().hex
            query["requestid"] = request_id
        url = f"/v3/company/{self.realm_id}/{path}"
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = _dumps(body)
        token = self.tokens.access_token()
        refreshed, failures, throttles, last = False, 0, 0, ""
        while True:
            retry_after = None
            try:
                with self.limiter.slot(self.realm_id, batch=batch):
                    self.calls += 1
                    response = self.http.request(
                        method, url, params=query, content=content, files=files,
                        headers={**headers, "Authorization": f"Bearer {token}"},
                    )  # fmt: skip
            except httpx.TransportError as exc:
                last = f"no reply ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == 401 and not refreshed:
                    token, refreshed = self.tokens.refreshed(token), True
                    continue
                if status == 429:
                    throttles += 1
                    self.throttled += 1
                    if throttles > self.throttle_attempts:
                        raise RateLimited(_retry_after(response) or 0)
                    self._wait_throttle(response, throttles)
                    continue
                if status < 500:
                    try:
                        return self._result(response, method, path)
                    except _Unreadable:
                        last = "an unreadable reply"
                else:
                    last, retry_after = f"HTTP {status}", _retry_after(response)
            failures += 1
            if failures >= self.attempts:
                raise Unavailable(
                    f"QuickBooks kept failing {method} {path}: {last}", request_id=request_id
                )
            self.retries += 1
            self.sleep(self._delay(failures, retry_after))

    def _wait_throttle(self, response: httpx.Response, throttles: int) -> None:
        wait = _retry_after(response)
        if wait is not None and wait > self.max_wait:
            raise RateLimited(wait)
        self.limiter.throttled(self.realm_id, wait_seconds=wait or self._delay(throttles, None))

    def _delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        step = min(self.backoff * 2 ** (failures - 1), self.backoff_cap)
        return step * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security

    def _result(self, response: httpx.Response, method: str, path: str) -> Any:
        status = response.status_code
        kind = response.headers.get("Content-Type", "")
        data: Any = None
        if "json" in kind and response.content:
            try:
                data = json.loads(response.content, parse_float=Decimal)
            except ValueError as exc:
                if status == 200:
                    raise _Unreadable from exc
                raise QuickBooksError(f"QuickBooks answered {status} to {method} {path}") from exc
        elif status == 200:
            return response.text
        if status in (401, 403):
            fault = _fault(data) if isinstance(data, dict) else None
            raise AuthorizationFailed(
                f"QuickBooks refused access ({status}{': ' + str(fault) if fault else ''})"
            )
        if isinstance(data, dict) and ("Fault" in data or "fault" in data):
            raise _fault(data)
        if status == 404:
            raise NotFound("NotFound", (FaultError("404", "Not found", path, ""),))
        if status >= 400:
            raise QuickBooksError(f"QuickBooks answered {status} to {method} {path}")
        if not isinstance(data, dict):
            raise _Unreadable
        return data

    # --- company -----------------------------------------------------------------------

    def company_info(self) -> CompanyInfo:
        row = self.request("GET", f"companyinfo/{self.realm_id}")["CompanyInfo"]
        return CompanyInfo(
            realm_id=self.realm_id,
            name=str(row.get("CompanyName") or ""),
            legal_name=str(row.get("LegalName") or ""),
            country=str(row.get("Country") or ""),
            fiscal_year_start_month=str(row.get("FiscalYearStartMonth") or ""),
        )

    def preferences(self) -> CompanySettings:
        prefs = self.request("GET", "preferences")["Preferences"].get("CurrencyPrefs") or {}
        self._settings = CompanySettings(
            home_currency=str((prefs.get("HomeCurrency") or {}).get("value") or ""),
            multicurrency=bool(prefs.get("MultiCurrencyEnabled")),
        )
        return self._settings

    def currencies(self) -> list[str]:
        """The company's currencies: home first, then the others it has on (multicurrency)."""
        settings = self._settings or self.preferences()
        others = []
        if settings.multicurrency:
            others = [row["Code"] for row in self.query_all("CompanyCurrency", "Active = true")]
        return [settings.home_currency, *sorted(set(others) - {settings.home_currency})]

    # --- queries -----------------------------------------------------------------------

    def query(self, statement: str) -> dict[str, Any]:
        """One query as written (`SELECT …`); its `QueryResponse`."""
        return self.request("GET", "query", params={"query": statement})["QueryResponse"]

    def query_all(
        self, entity: str, where: str = "", *, order: str = "Id", page_size: int = PAGE_MAX
    ) -> list[dict[str, Any]]:
        """Every row of `entity` matching `where`, page by page (STARTPOSITION/MAXRESULTS)."""
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            statement = f"SELECT * FROM {entity}"  # noqa: S608 - Intuit's query language
            if where:
                statement += f" WHERE {where}"
            statement += f" ORDERBY {order} STARTPOSITION {start} MAXRESULTS {page_size}"
            page = self.query(statement).get(entity, [])
            rows.extend(page)
            if len(page) < page_size:
                return rows
            start += page_size

    def count(self, entity: str, where: str = "") -> int:
        statement = f"SELECT count(*) FROM {entity}"  # noqa: S608 - Intuit's query language
        if where:
            statement += f" WHERE {where}"
        return int(self.query(statement).get("totalCount", 0))

    # --- chart of accounts -------------------------------------------------------------

    def accounts(self, *, page_size: int = PAGE_MAX) -> list[Account]:
        return [_account(row) for row in self.query_all("Account", page_size=page_size)]

    def account_create(
        self,
        *,
        name: str,
        account_type: str,
        sub_type: str | None = None,
        currency: str | None = None,
        number: str | None = None,
        description: str | None = None,
    ) -> Account:
        body: dict[str, Any] = {"Name": name, "AccountType": account_type}
        for key, value in (("AccountSubType", sub_type), ("AcctNum", number),
                           ("Description", description)):  # fmt: skip
            if value:
                body[key] = value
        if currency:
            body["CurrencyRef"] = {"value": currency}
        return _account(self.request("POST", "account", body=body, write=True)["Account"])

    def bank_account_ensure(
        self, *, name: str, currency: str, number: str | None = None, sub_type: str = "Checking"
    ) -> Account:
        """The bank account called `name` in `currency`, made when missing. A company
        without multicurrency cannot hold a foreign one: `MulticurrencyRequired`, before
        anything is written."""
        settings = self._settings or self.preferences()
        if currency != settings.home_currency and not settings.multicurrency:
            raise MulticurrencyRequired(currency, settings.home_currency)
        found = self.query_all("Account", f"Name = {_quote(name)}")
        if found:
            account = _account(found[0])
            if account.type != "Bank" or account.currency != currency:
                raise QuickBooksError(
                    f"QuickBooks already has an account called {name!r}, but it is a "
                    f"{account.type} account in {account.currency}, not a {currency} bank account."
                )
            return account
        return self.account_create(
            name=name, account_type="Bank", sub_type=sub_type, currency=currency, number=number
        )

    def bank_balances(
        self, *, account_types: Sequence[str] = BANK_ACCOUNT_TYPES
    ) -> list[BankBalance]:
        """Each bank account's `CurrentBalance`, in the account's own currency."""
        types = ", ".join(_quote(t) for t in account_types)
        rows, start, read_at = [], 1, datetime.now(tz=UTC)
        while True:
            response = self.query(
                f"SELECT * FROM Account WHERE AccountType IN ({types}) ORDERBY Id "  # noqa: S608
                f"STARTPOSITION {start} MAXRESULTS {PAGE_MAX}"
            )
            page = response.get("Account", [])
            rows.extend(page)
            if len(page) < PAGE_MAX:
                break
            start += PAGE_MAX
        return [
            BankBalance(
                account_id=str(row["Id"]),
                name=str(row.get("Name") or ""),
                currency=_ref(row.get("CurrencyRef")),
                balance=_decimal(row.get("CurrentBalance")) or Decimal(0),
                balance_with_sub_accounts=_decimal(row.get("CurrentBalanceWithSubAccounts"))
                or Decimal(0),
                read_at=read_at,
            )
            for row in rows
        ]

    # --- transactions ------------------------------------------------------------------

    def create(
        self, entity: str, body: Mapping[str, Any], *, request_id: str | None = None
    ) -> Entity:
        data = self.request("POST", entity.lower(), body=body, write=True, request_id=request_id)
        return _entity(entity, data[entity])

    def purchase_create(self, body: Mapping[str, Any], *, request_id: str | None = None) -> Entity:
        return self.create("Purchase", body, request_id=request_id)

    def deposit_create(self, body: Mapping[str, Any], *, request_id: str | None = None) -> Entity:
        return self.create("Deposit", body, request_id=request_id)

    def transfer_create(self, body: Mapping[str, Any], *, request_id: str | None = None) -> Entity:
        return self.create("Transfer", body, request_id=request_id)

    def journal_entry_create(
        self, body: Mapping[str, Any], *, request_id: str | None = None
    ) -> Entity:
        return self.create("JournalEntry", body, request_id=request_id)

    def read(self, entity: str, entity_id: str) -> Entity:
        return _entity(entity, self.request("GET", f"{entity.lower()}/{entity_id}")[entity])

    def update(self, entity: str, body: Mapping[str, Any], *, sparse: bool = False) -> Entity:
        """A full update (or a sparse one); `body` carries `Id` and the `SyncToken` last read
        (`StaleObject` if the entity changed since)."""
        payload = {**body, "sparse": True} if sparse else dict(body)
        data = self.request("POST", entity.lower(), body=payload, write=True)
        return _entity(entity, data[entity])

    def delete(self, entity: str, entity_id: str, sync_token: str) -> Entity:
        return self._operation(entity, entity_id, sync_token, "delete")

    def void(self, entity: str, entity_id: str, sync_token: str) -> Entity:
        return self._operation(entity, entity_id, sync_token, "void")

    def _operation(self, entity: str, entity_id: str, sync_token: str, operation: str) -> Entity:
        data = self.request(
            "POST", entity.lower(), params={"operation": operation},
            body={"Id": entity_id, "SyncToken": sync_token}, write=True,
        )  # fmt: skip
        return _entity(entity, data[entity])

    def batch(
        self, items: Sequence[BatchItem], *, request_id: str | None = None
    ) -> list[BatchResult]:
        """Up to 30 operations in one call, answered item by item (one refused item does
        not hold back the others). Pass a `request_id` derived from the items to make the
        batch idempotent across runs, not only across this call's retries."""
        if not 0 < len(items) <= BATCH_MAX_ITEMS:
            raise ValueError(f"a batch holds 1 to {BATCH_MAX_ITEMS} items, not {len(items)}")
        requested = []
        for item in items:
            if item.query:
                requested.append({"bId": item.bid, "Query": item.query})
            else:
                requested.append({"bId": item.bid, "operation": item.operation,
                                  item.entity: dict(item.body or {})})  # fmt: skip
        data = self.request(
            "POST", "batch", body={"BatchItemRequest": requested}, write=True, batch=True,
            request_id=request_id,
        )  # fmt: skip
        answers = {str(a.get("bId")): a for a in data.get("BatchItemResponse", [])}
        results = []
        for item in items:
            answer = answers.get(item.bid, {})
            errors = _fault(answer).errors if "Fault" in answer else ()
            entity = _entity(item.entity, answer[item.entity]) if item.entity in answer else None
            query = answer.get("QueryResponse") or {}
            rows = tuple(
                r for key, value in query.items() if isinstance(value, list) for r in value
            )
            if not answer:
                errors = (FaultError("", "No answer for this batch item", item.bid, ""),)
            results.append(BatchResult(item.bid, entity, rows, errors))
        return results

    def create_all(
        self,
        entity: str,
        bodies: Sequence[Mapping[str, Any]],
        *,
        request_ids: Callable[[int], str] | None = None,
    ) -> list[BatchResult]:
        """Create every body, 30 to a batch, in order; `request_ids(n)` names batch n."""
        results: list[BatchResult] = []
        for number, start in enumerate(range(0, len(bodies), BATCH_MAX_ITEMS)):
            chunk = bodies[start : start + BATCH_MAX_ITEMS]
            items = [BatchItem(str(i + 1), entity, "create", body) for i, body in enumerate(chunk)]
            results += self.batch(items, request_id=request_ids(number) if request_ids else None)
        return results

    def find_by_doc_number(self, entity: str, values: Iterable[str]) -> dict[str, list[Entity]]:
        """`entity`s by `DocNumber` (the posting key); more than one under a key is a
        double posting for the caller to see."""
        return self._find(entity, "DocNumber", values)

    def find_by_private_note(self, entity: str, values: Iterable[str]) -> dict[str, list[Entity]]:
        return self._find(entity, "PrivateNote", values)

    def _find(self, entity: str, field_name: str, values: Iterable[str]) -> dict[str, list[Entity]]:
        wanted = sorted(set(values))
        found: dict[str, list[Entity]] = {}
        for start in range(0, len(wanted), IN_LIST_MAX):
            chunk = ", ".join(_quote(v) for v in wanted[start : start + IN_LIST_MAX])
            for row in self.query_all(entity, f"{field_name} IN ({chunk})"):
                found.setdefault(str(row.get(field_name) or ""), []).append(_entity(entity, row))
        return found

    # --- read-back ---------------------------------------------------------------------

    def changes_since(self, entities: Sequence[str], since: datetime) -> ChangeSet:
        """One change-data-capture read: entities changed (or deleted) at or after `since`.
        QuickBooks stamps changes to the whole second, so the cursor is sent to the second
        too: the next read may repeat the last second's changes (the caller keeps one entry
        per entity and SyncToken), and never misses one made later in that second."""
        data = self.request(
            "GET",
            "cdc",
            params={"entities": ",".join(entities), "changedSince": _iso(since)},
        )
        changes = []
        for cdc in data.get("CDCResponse", []):
            for response in cdc.get("QueryResponse", []):
                for entity, rows in response.items():
                    if isinstance(rows, list):
                        changes.extend(_entity(entity, row) for row in rows)
        complete = len(changes) < CDC_MAX_OBJECTS
        if complete:
            cursor = _moment(data.get("time")) or since
        else:  # the cap cut the answer: go on from the latest change seen
            cursor = max((c.updated_at for c in changes if c.updated_at), default=since)
        return ChangeSet(changes=changes, cursor=cursor, complete=complete)

    def read_back_since(
        self, entities: Sequence[str], since: datetime, *, max_reads: int = 100
    ) -> ChangeSet:
        """Every change since `since`, across as many CDC reads as the cap needs; one entry
        per entity (the latest)."""
        latest: dict[tuple[str, str], Entity] = {}
        cursor = since
        for _ in range(max_reads):
            page = self.changes_since(entities, cursor)
            for change in page.changes:
                key = (change.entity, change.id)
                if key not in latest or _newer(change, latest[key]):
                    latest[key] = change
            if page.complete or page.cursor <= cursor:
                return ChangeSet(list(latest.values()), page.cursor, page.complete)
            cursor = page.cursor
        return ChangeSet(list(latest.values()), cursor, False)

    # --- exchange rates ----------------------------------------------------------------

    def exchange_rate(self, source: str, as_of: date | None = None) -> ExchangeRate:
        params = {"sourcecurrencycode": source}
        if as_of is not None:
            params["asofdate"] = as_of.isoformat()
        return _rate(self.request("GET", "exchangerate", params=params)["ExchangeRate"])

    def exchange_rates(self, sources: Sequence[str], as_of: date) -> list[ExchangeRate]:
        codes = ", ".join(_quote(s) for s in sources)
        rows = self.query(
            f"SELECT * FROM ExchangeRate WHERE SourceCurrencyCode IN ({codes}) "  # noqa: S608
            f"AND AsOfDate = '{as_of.isoformat()}'"
        ).get("ExchangeRate", [])
        return [_rate(row) for row in rows]

    def exchange_rate_set(
        self,
        source: str,
        rate: Decimal,
        as_of: date,
        *,
        sync_token: str = "0",  # noqa: S107
    ) -> ExchangeRate:
        """Set the company's rate for `source` on `as_of` (home units per one unit)."""
        body = {"SourceCurrencyCode": source, "Rate": rate, "AsOfDate": as_of.isoformat(),
                "SyncToken": sync_token}  # fmt: skip
        return _rate(self.request("POST", "exchangerate", body=body, write=True)["ExchangeRate"])

    # --- attachments -------------------------------------------------------------------

    def attachment_upload(
        self,
        *,
        file_name: str,
        content_type: str,
        content: bytes,
        refs: Sequence[tuple[str, str]] = (),
        note: str | None = None,
        category: str | None = None,
    ) -> Attachment:
        """Upload one file (`POST /upload`), attached to `refs` ((entity, id) pairs)."""
        metadata: dict[str, Any] = {
            "FileName": file_name,
            "ContentType": content_type,
            "AttachableRef": [
                {"EntityRef": {"type": entity, "value": entity_id}, "IncludeOnSend": False}
                for entity, entity_id in refs
            ],
        }
        if note:
            metadata["Note"] = note
        if category:
            metadata["Category"] = category
        files = {
            "file_metadata_01": ("attachment.json", _dumps(metadata), "application/json"),
            "file_content_01": (file_name, content, content_type),
        }
        data = self.request("POST", "upload", files=files, write=True)
        answer = (data.get("AttachableResponse") or [{}])[0]
        if "Fault" in answer:
            raise _fault(answer)
        return _attachment(answer["Attachable"])

    def attachment_download(self, attachable_id: str) -> bytes:
        """The file's bytes, through the temporary URL QuickBooks hands out."""
        url = str(self.request("GET", f"download/{attachable_id}")).strip()
        try:
            response = httpx.get(url, timeout=self.http.timeout)
        except httpx.TransportError as exc:
            raise Unavailable(f"The attachment could not be fetched: {exc!r}") from exc
        if response.status_code != 200:
            raise QuickBooksError(f"The attachment's link answered {response.status_code}")
        return response.content


class _Unreadable(Exception):
    pass


# --- wire helpers ------------------------------------------------------------------------


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
    return re.sub(r'"__decimal__:(-?[0-9.]+)"', r"\1", text).encode()


class _Raw(str):
    def __new__(cls, number: Decimal) -> _Raw:
        return super().__new__(cls, f"__decimal__:{format(number, 'f')}")


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _retry_after(response: httpx.Response) -> int | None:
    """`Retry-After` in whole seconds (RFC 9110's delay-seconds), None when absent."""
    value = response.headers.get("Retry-After", "").strip()
    return int(value) if value.isdigit() else None


def _fault(data: Mapping[str, Any]) -> Fault:
    """The typed exception for a `Fault` (v3) or a gateway's lower-case `fault`."""
    raw = data.get("Fault") or data.get("fault") or {}
    errors = tuple(
        FaultError(
            code=str(e.get("code") or ""),
            message=str(e.get("Message") or e.get("message") or ""),
            detail=str(e.get("Detail") or e.get("detail") or ""),
            element=str(e.get("element") or ""),
        )
        for e in (raw.get("Error") or raw.get("error") or [])
    )
    codes = {e.code for e in errors}
    fault_type = str(raw.get("type") or "")
    cls: type[Fault] = Fault
    if "5010" in codes:
        cls = StaleObject
    elif "610" in codes:
        cls = NotFound
    elif codes & {"4000", "4001"}:
        cls = QueryRefused
    elif fault_type == "ValidationFault":
        cls = ValidationFailed
    return cls(fault_type, errors)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (bool, float)):
        raise TypeError(f"not an exact amount: {value!r}")
    return Decimal(str(value))


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime is not a moment; give it a time zone")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _ref(value: Any) -> str:
    return str(value.get("value") or "") if isinstance(value, dict) else ""


def _newer(change: Entity, seen: Entity) -> bool:
    """Whether `change` supersedes `seen` (ids are never reused, so a deletion is final)."""
    if seen.status == "Deleted" or change.status == "Deleted":
        return change.status == "Deleted"
    return int(change.sync_token or 0) >= int(seen.sync_token or 0)


def _account(row: Mapping[str, Any]) -> Account:
    return Account(
        id=str(row["Id"]),
        name=str(row.get("Name") or ""),
        number=str(row.get("AcctNum") or ""),
        type=str(row.get("AccountType") or ""),
        sub_type=str(row.get("AccountSubType") or ""),
        classification=str(row.get("Classification") or ""),
        currency=_ref(row.get("CurrencyRef")),
        active=bool(row.get("Active", True)),
        current_balance=_decimal(row.get("CurrentBalance")) or Decimal(0),
        current_balance_with_sub_accounts=_decimal(row.get("CurrentBalanceWithSubAccounts"))
        or Decimal(0),
        sync_token=str(row.get("SyncToken") or ""),
    )


_BANK_SIDE = {"Purchase": "AccountRef", "Deposit": "DepositToAccountRef",
              "Transfer": "FromAccountRef", "Payment": "DepositToAccountRef"}  # fmt: skip


def _entity(entity: str, row: Mapping[str, Any]) -> Entity:
    lines = []
    for line in row.get("Line") or []:
        detail_type = str(line.get("DetailType") or "")
        detail = line.get(detail_type) or {}
        lines.append(
            Line(
                amount=_decimal(line.get("Amount")) or Decimal(0),
                detail_type=detail_type,
                account_id=_ref(detail.get("AccountRef")),
                posting_type=str(detail.get("PostingType") or ""),
                description=str(line.get("Description") or ""),
            )
        )
    total = row.get("Amount") if entity == "Transfer" else row.get("TotalAmt")
    status = str(row.get("status") or "")
    if not status and row.get("TxnStatus") == "Voided":
        status = "Voided"
    return Entity(
        entity=entity,
        id=str(row.get("Id") or ""),
        sync_token=str(row.get("SyncToken") or ""),
        status=status,
        txn_date=_day(row.get("TxnDate")),
        doc_number=str(row.get("DocNumber") or ""),
        private_note=str(row.get("PrivateNote") or ""),
        currency=_ref(row.get("CurrencyRef")),
        exchange_rate=_decimal(row.get("ExchangeRate")),
        total=_decimal(total),
        home_total=_decimal(row.get("HomeTotalAmt")),
        account_id=_ref(row.get(_BANK_SIDE.get(entity, ""))),
        to_account_id=_ref(row.get("ToAccountRef")),
        lines=tuple(lines),
        updated_at=_moment((row.get("MetaData") or {}).get("LastUpdatedTime")),
        raw=row,
    )


def _rate(row: Mapping[str, Any]) -> ExchangeRate:
    return ExchangeRate(
        source=str(row["SourceCurrencyCode"]),
        target=str(row.get("TargetCurrencyCode") or ""),
        rate=_decimal(row["Rate"]) or Decimal(0),
        as_of=date.fromisoformat(str(row["AsOfDate"])),
        sync_token=str(row.get("SyncToken") or "0"),
    )


def _attachment(row: Mapping[str, Any]) -> Attachment:
    refs = tuple(
        (_ref_type(ref.get("EntityRef")), _ref(ref.get("EntityRef")))
        for ref in row.get("AttachableRef") or []
    )
    return Attachment(
        id=str(row["Id"]),
        file_name=str(row.get("FileName") or ""),
        content_type=str(row.get("ContentType") or ""),
        size=int(row.get("Size") or 0),
        refs=refs,
        download_url=str(row.get("TempDownloadUri") or ""),
    )


def _ref_type(value: Any) -> str:
    return str(value.get("type") or "") if isinstance(value, dict) else ""
