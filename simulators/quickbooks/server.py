"""A loopback fake of QuickBooks Online: Intuit's OAuth 2.0 service and the v3 Accounting
API, with Intuit's shapes, limits and failure modes.

One server plays the hosts (`appcenter.intuit.com`, `oauth.platform.intuit.com`,
`developer.api.intuit.com`, `quickbooks.api.intuit.com`):

- **OAuth 2.0**: `GET /connect/oauth2` (a consent page where the owner picks a company,
  or an immediate redirect with `auto_consent`) redirects back with `code`, `state` and
  `realmId`; `POST /oauth2/v1/tokens/bearer` takes Basic client auth, exchanges a code
  once, and refreshes: every refresh returns a new refresh token, and the one it replaced
  keeps working for 24 hours, then `invalid_grant` (the Intuit OAuth FAQ's "the refresh
  token value changes every 24 hours … always use the latest"; the reference leaves the
  grace unconfirmed, 24 hours is the figure Intuit's FAQ and the SDK notes give). Access
  tokens last one hour, refresh tokens 100 days from issue. `POST /v2/oauth2/tokens/revoke`.
- **Accounting** under `/v3/company/{realmId}/`: create, read, update (full or sparse,
  `SyncToken` checked: 5010 when stale), `?operation=delete|void`, `query` (the documented
  subset, see `query.py`), `batch` (at most 30 items), `cdc` (change data capture, at most
  1,000 objects and 30 days back), `upload`/`download` (attachments), `companyinfo`,
  `preferences`, `exchangerate`. `minorversion`: absent or 1-75 is served as 75 (Intuit
  ignores 1-74 since August 2025); a newer or unreadable one is refused, so a client
  asking for shapes the simulator does not speak fails loudly.
- **Contract**: every request body and every JSON response is checked against Intuit's
  XSDs (`schema.py`) by `contract_request` and `contract_response`, the two hooks a
  suite-wide guard can take over. A violation is kept in `violations`; a bad request is
  refused as the service refuses it (400 `ValidationFault`, 2010 or 2020); a bad response
  (a simulator bug) becomes a 500 `SystemFault`. The gateway's 401/403 bodies are not v3
  shapes and are not checked.
- **Idempotency**: a write sent with `requestid` is done once; the same `requestid` again
  gets the first answer (at most 50 characters, 36 for a batch, as Intuit documents).
- **Limits** per company: 500 requests a minute, 120 batch requests a minute (Intuit's
  2025-08-13 announcement, in force since 2025-10-31; the older batch page says 40), 10
  at once; a breach is a 429 `ThrottleExceeded` (3001). Intuit documents no
  `Retry-After`; `limits.retry_after` makes the simulator send one. All switchable.
- **Faults**: the base's (500s, cut connections, slow replies, before any work) and
  `commit_faults` (the work is done, then the reply is lost: a 502 from the gateway, or
  an answer later than the client waits), which is what `requestid` exists for.
"""

from __future__ import annotations

import base64
import copy
import email.parser
import email.policy
import html
import json
import random
import re
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from simulators.base import SimRequest, SimResponse, SimulatorServer, json_dumps
from simulators.quickbooks import query as ql
from simulators.quickbooks import schema, seed
from simulators.quickbooks.books import CDC_ENTITIES, ENTITIES, OPERATIONS, Company
from simulators.quickbooks.shapes import (
    CURRENCY_NAMES,
    THROTTLED,
    Refusal,
    business,
    fault_body,
    gateway_forbidden,
    gateway_unauthorized,
    parse_moment,
)

ACCESS_SECONDS = 3600
REFRESH_SECONDS = 100 * 86400
REFRESH_GRACE_SECONDS = 24 * 3600
CODE_SECONDS = 300
DOWNLOAD_SECONDS = 15 * 60
CDC_LOOKBACK_DAYS = 30
CDC_MAX_OBJECTS = 1000
BATCH_MAX_ITEMS = 30
MINOR_VERSION = 75
UPLOAD_MAX_BYTES = 100 * 1024 * 1024
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
KNOWN_SCOPES = {ACCOUNTING_SCOPE, "com.intuit.quickbooks.payment", "openid", "profile",
                "email", "phone", "address"}  # fmt: skip
_API = re.compile(r"^/v3/company/(?P<realm>[^/]+)/(?P<rest>.*)$")


@dataclass
class AppClient:
    secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect URI is accepted


@dataclass
class AccessGrant:
    client_id: str
    realm_id: str
    family: str
    expires_at: float


@dataclass
class RefreshGrant:
    client_id: str
    realm_id: str
    family: str
    scope: str
    expires_at: float
    superseded_at: float | None = None


@dataclass
class Limits:
    minute: int = 500
    batch_minute: int = 120
    minute_seconds: float = 60.0
    concurrent: int = 10
    enabled: bool = True
    retry_after: int | None = None  # seconds to send in Retry-After; Intuit sends none


@dataclass
class RealmLoad:
    started: float = 0.0
    used: int = 0
    batches: int = 0
    in_flight: int = 0


@dataclass
class CommitFaults:
    """Replies lost after the work is done, at `lost_rate`: `502` (the gateway answers
    Bad Gateway) or `late` (the answer comes after `late_seconds`)."""

    lost_rate: float = 0.0
    kind: str = "502"
    late_seconds: float = 5.0
    paths: str = ""


@dataclass
class Reply:
    """A v3 JSON answer, checked against the schema before it is sent."""

    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class QuickBooksSimulator(SimulatorServer):
    name = "quickbooks"

    def __init__(
        self,
        *,
        seed_value: int = 1,
        port: int = 0,
        auto_consent: bool = False,
        consent_realm: str | None = None,
        latency: float = 0.0,
    ) -> None:
        super().__init__(port=port, seed=seed_value)
        self.auto_consent = auto_consent
        self.latency = latency  # seconds each API call takes, holding its slot
        self.consent_realm = consent_realm
        self.limits = Limits()
        self.clock_offset = 0.0
        self._data_init()
        self.route("GET", r"/connect/oauth2", self.authorize)
        self.route("POST", r"/connect/oauth2", self.authorize_consent)
        self.route("POST", r"/oauth2/v1/tokens/bearer", self.token)
        self.route("POST", r"/v2/oauth2/tokens/revoke", self.revoke)
        self.route("GET", r"/_files/(?P<ticket>[\w-]+)", self.file_serve)

    def _data_init(self) -> None:
        self.companies: dict[str, Company] = seed.companies_seed(self.seed)
        self.clients = {seed.DEMO_CLIENT_ID: AppClient(seed.DEMO_CLIENT_SECRET)}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, AccessGrant] = {}
        self.refresh: dict[str, RefreshGrant] = {}
        self.load: dict[str, RealmLoad] = {}
        self.replies: dict[tuple[str, str], SimResponse] = {}
        self.downloads: dict[str, tuple[str, str, float]] = {}
        self.violations: list[schema.Violation] = []
        self.commit_faults = CommitFaults()
        self.writes = 0
        self.replayed = 0
        self.lost_replies = 0
        self.rate_limited = 0
        self.max_in_flight = 0
        self.token_refreshes = 0

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.rng = random.Random(self.seed)  # the same faults, run after run
            self._data_init()
            self.limits = Limits()
            self.clock_offset = 0.0
            self.latency = 0.0
            self.consent_realm = None

    def now(self) -> float:
        return time.time() + self.clock_offset

    # --- state and controls for tests and the demo ---------------------------------------

    @property
    def realm_ids(self) -> list[str]:
        return list(self.companies)

    def company(self, index: int = 0) -> Company:
        return list(self.companies.values())[index]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                **super().state(),
                "writes": self.writes,
                "replayed": self.replayed,
                "lost_replies": self.lost_replies,
                "rate_limited": self.rate_limited,
                "max_in_flight": self.max_in_flight,
                "token_refreshes": self.token_refreshes,
                "violations": [str(v) for v in self.violations],
                "companies": {
                    c.realm_id: {
                        "name": c.name,
                        "home_currency": c.home,
                        "multicurrency": c.multicurrency,
                        **{e: len(rows) for e, rows in sorted(c.rows.items())},
                    }
                    for c in self.companies.values()
                },
            }

    def limits_set(self, **values: Any) -> None:
        with self.lock:
            for name, value in values.items():
                if not hasattr(self.limits, name):
                    raise ValueError(f"no limit {name!r}")
                setattr(self.limits, name, value)
            self.load.clear()

    def set_commit_faults(self, **values: Any) -> None:
        with self.lock:
            self.commit_faults = CommitFaults(**values)

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock on (token expiry, limit windows, CDC)."""
        with self.lock:
            self.clock_offset += seconds

    def expire_access_tokens(self) -> None:
        with self.lock:
            for grant in self.access.values():
                grant.expires_at = self.now() - 1

    def multicurrency_enable(self, realm_id: str) -> None:
        """What the owner does in QuickBooks' settings; it cannot be undone."""
        with self.lock:
            company = self.companies[realm_id]
            company.multicurrency = True
            if not company.feed_rates:
                company.feed_rates = seed.feed_rates_for(company.home)

    def control(self, action: str, request: SimRequest) -> SimResponse:
        """`/_sim/advance`, `/_sim/limits`, `/_sim/expire`, `/_sim/lost`,
        `/_sim/multicurrency`, `/_sim/violations`."""
        if action == "violations":
            with self.lock:
                return SimResponse.json([asdict(v) for v in self.violations])
        body = request.json() or {}
        try:
            if action == "advance":
                self.advance(float(body.get("seconds", 0)))
            elif action == "limits":
                self.limits_set(**body)
            elif action == "expire":
                self.expire_access_tokens()
            elif action == "lost":
                self.set_commit_faults(**body)
            elif action == "multicurrency":
                if body.get("enabled") is False:
                    return SimResponse.json(
                        {"error": "multicurrency cannot be turned off once on"}, status=400
                    )
                self.multicurrency_enable(str(body["realm_id"]))
            else:
                return super().control(action, request)
        except (KeyError, TypeError, ValueError) as exc:
            return SimResponse.json({"error": f"bad control request: {exc}"}, status=400)
        return SimResponse.json(self.state())

    # --- dispatch ----------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> SimResponse:
        if status >= 500:
            refusal = Refusal("10000", message, status=status, fault_type="SystemFault")
            return SimResponse.json(fault_body(refusal, self._time()), status=status)
        return SimResponse.json({"error": message}, status=status)

    def dispatch(self, request: SimRequest) -> SimResponse:
        match = _API.match(request.path)
        if match is None:
            return super().dispatch(request)
        grant = self._authenticate(request)
        if isinstance(grant, SimResponse):
            return grant
        realm_id, rest = match.group("realm"), match.group("rest").strip("/")
        company = self.companies.get(realm_id)
        if company is None or grant.realm_id != realm_id:
            return gateway_forbidden()
        limited = self._admit(company, batch=rest.lower() == "batch")
        if limited is not None:
            return self._finish(request, company, limited)
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._idempotent(request, company, rest)
        finally:
            with self.lock:
                self.load[realm_id].in_flight -= 1

    def _idempotent(self, request: SimRequest, company: Company, rest: str) -> SimResponse:
        request_id = request.arg("requestid")
        if request.method != "POST":
            return self._finish(request, company, self._call(request, company, rest))
        limit = 36 if rest.lower() == "batch" else 50
        if request_id is not None and len(request_id) > limit:
            refusal = business(
                f"You cannot enter more than {limit} characters in the request_id field. You "
                f"tried entering {request_id[:10]}..., which is {len(request_id)} characters."
            )
            return self._finish(request, company, refusal)
        key = (company.realm_id, request_id or "")
        with self.lock:
            cached = self.replies.get(key) if request_id else None
            if cached is not None:
                self.replayed += 1
                return SimResponse(cached.status, cached.body, dict(cached.headers))
            self.writes += 1
            response = self._finish(request, company, self._call(request, company, rest))
            if request_id and response.status < 500:
                self.replies[key] = response
            lost = self._lost(request.path)
        if lost == "502":
            return SimResponse.text(
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
                status=502,
                content_type="text/html",
            )
        if lost == "late":
            time.sleep(self.commit_faults.late_seconds)
        return response

    def _lost(self, path: str) -> str | None:
        faults = self.commit_faults
        if faults.lost_rate <= 0 or (faults.paths and not re.search(faults.paths, path)):
            return None
        if self.rng.random() >= faults.lost_rate:
            return None
        self.lost_replies += 1
        return faults.kind

    def _call(self, request: SimRequest, company: Company, rest: str) -> Reply | SimResponse:
        """One API call: a `Refusal` anywhere becomes its Fault."""
        try:
            self._minor_version(request)
            parts = rest.split("/")
            head = parts[0].lower()
            if head == "query" and request.method in ("GET", "POST"):
                text = request.arg("query") or request.body.decode("utf-8", "replace")
                with self.lock:
                    return Reply({"QueryResponse": self._query(company, text), **self._t(company)})
            if head == "batch" and request.method == "POST":
                return self._batch(request, company)
            if head == "cdc" and request.method == "GET":
                return self._cdc(request, company)
            if head == "upload" and request.method == "POST":
                return self._upload(request, company)
            if head == "download" and request.method == "GET" and len(parts) == 2:
                return self._download(company, parts[1])
            if head == "companyinfo" and request.method == "GET":
                return Reply({"CompanyInfo": self._company_info(company), **self._t(company)})
            if head == "preferences" and request.method == "GET":
                return Reply({"Preferences": self._preferences(company), **self._t(company)})
            if head == "preferences" and request.method == "POST":
                return self._preferences_update(request, company)
            if head == "exchangerate":
                return self._exchange_rate(request, company)
            entity = ENTITIES.get(head)
            if entity is None:
                return self.error_response(404, f"No route for {request.method} {request.path}")
            if request.method == "GET" and len(parts) == 2:
                with self.lock:
                    row = self._shown(company, entity, company.get(entity, parts[1]))
                return Reply({entity: row, **self._t(company)})
            if request.method == "POST" and len(parts) == 1:
                body = self._body(request)
                refused = self.contract_request(request, company, entity, body)
                if refused is not None:
                    return refused
                operation = (request.arg("operation") or "").lower()
                with self.lock:
                    row = self._write(company, entity, operation, body)
                return Reply({entity: row, **self._t(company)})
            return self.error_response(405, "Method not allowed")
        except Refusal as refusal:
            return self._refusal_reply(refusal, company)

    def _finish(self, request: SimRequest, company: Company, reply: Any) -> SimResponse:
        if isinstance(reply, Refusal):
            reply = self._refusal_reply(reply, company)
        if isinstance(reply, Reply):
            return self.contract_response(request, company, reply)
        return reply

    # --- the contract hooks ------------------------------------------------------------

    def contract_request(
        self, request: SimRequest, company: Company, element: str, body: Any
    ) -> Reply | None:
        """Check a request body against the XSD element; a Fault reply if it breaks it."""
        found = schema.request_violations(element, body)
        if not found:
            return None
        return self._refuse_body(request, company, found)

    def contract_response(self, request: SimRequest, company: Company, reply: Reply) -> SimResponse:
        """Check a v3 JSON answer against `IntuitResponse`, then send it; a violation is
        the simulator's own bug and is answered 500 (and kept)."""
        found = schema.response_violations(reply.body)
        if found:
            self._record(request, found)
            refusal = Refusal(
                "10000",
                f"Simulator contract violation: {found[0]}",
                status=500,
                fault_type="SystemFault",
            )
            reply = self._refusal_reply(refusal, company)
        return SimResponse(
            status=reply.status,
            body=json_dumps(reply.body).encode(),
            headers={"Content-Type": "application/json;charset=UTF-8",
                     "intuit_tid": secrets.token_hex(16), **reply.headers},
        )  # fmt: skip

    def _refuse_body(
        self, request: SimRequest, company: Company, found: list[schema.Violation]
    ) -> Reply:
        first = self._record(request, found)[0]
        if first.kind == "missing":
            refusal = Refusal(
                "2020", f"Required parameter {first.path} is missing in the request: "
                f"{first.reason}", first.path.rsplit(".", 1)[-1],
            )  # fmt: skip
        else:
            refusal = Refusal(
                "2010", f"Property Name:{first.path} specified is unsupported or invalid: "
                f"{first.reason}", first.path.rsplit(".", 1)[-1],
            )  # fmt: skip
        return self._refusal_reply(refusal, company)

    def _record(self, request: SimRequest, found: list[schema.Violation]) -> list[schema.Violation]:
        where = f"{request.method} {request.path}"
        recorded = [replace(v, request=where) for v in found]
        with self.lock:
            self.violations.extend(recorded)
        return recorded

    def _body(self, request: SimRequest) -> Any:
        try:
            return request.json()
        except ValueError as exc:
            violation = schema.Violation("request", "(body)", "(body)", "shape", f"not JSON: {exc}")
            self._record(request, [violation])
            raise Refusal(
                "2010", f"Property Name:Unreadable JSON ({exc}) specified is unsupported or invalid"
            ) from exc

    # --- the pieces of the API ---------------------------------------------------------

    def _refusal_reply(self, refusal: Refusal, company: Company) -> Reply:
        return Reply(fault_body(refusal, company.clock.response_time(self.now())),
                     status=refusal.status)  # fmt: skip

    def _t(self, company: Company) -> dict[str, str]:
        return {"time": company.clock.response_time(self.now())}

    def _time(self) -> str:
        return self.company().clock.response_time(self.now())

    def _minor_version(self, request: SimRequest) -> None:
        text = request.arg("minorversion")
        if text is None:
            return
        if not text.isdigit() or not 1 <= int(text) <= MINOR_VERSION:
            raise Refusal(
                "2010",
                f"Invalid minorversion {text!r}: this service speaks minor versions up to "
                f"{MINOR_VERSION}",
                "minorversion",
            )

    def _write(self, company: Company, entity: str, operation: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Refusal("2010", "Property Name:(body) specified is unsupported or invalid")
        if not operation:
            operation = "update" if body.get("Id") else "create"
        allowed = OPERATIONS.get(entity, set())
        if operation not in allowed:
            raise Refusal("500", f"Operation {operation.title()} is not supported.")
        now = self.now()
        if operation == "create":
            row = company.create(entity, body, now)
        elif operation == "update":
            row = company.update(entity, body, now)
        elif operation == "delete":
            row = company.delete(entity, body, now)
        else:
            row = company.void(entity, body, now)
        return self._shown(company, entity, row)

    def _shown(self, company: Company, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        if entity == "Attachable" and row.get("FileName") and row.get("status") != "Deleted":
            ticket = secrets.token_urlsafe(18)
            self.downloads[ticket] = (company.realm_id, row["Id"], self.now() + DOWNLOAD_SECONDS)
            row["TempDownloadUri"] = f"{self.url}/_files/{ticket}"
        return row

    def _query(self, company: Company, text: str) -> dict[str, Any]:
        parsed = ql.resolve(ql.parse(text), ENTITIES)
        tz = company.clock.tz
        if parsed.entity == "ExchangeRate":
            rows = self._rate_rows(company, parsed)
        elif parsed.entity == "CompanyInfo":
            rows = [self._company_info(company)]
        elif parsed.entity == "Preferences":
            rows = [self._preferences(company)]
        else:
            if parsed.entity == "CompanyCurrency" and not company.multicurrency:
                raise business("Multicurrency is not enabled for this company.")
            rows = company.all(parsed.entity)
        rows = [row for row in rows if ql.matches(parsed, row, tz)]
        if parsed.count:
            return {"totalCount": len(rows)}
        first = parsed.start - 1
        page = ql.ordered(parsed, rows, tz)[first : first + parsed.max_results]
        if not page:
            return {}
        page = [self._shown(company, parsed.entity, row) for row in page]
        return {parsed.entity: page, "startPosition": parsed.start, "maxResults": len(page)}

    def _batch(self, request: SimRequest, company: Company) -> Reply:
        body = self._body(request)
        refused = self.contract_request(request, company, "IntuitBatchRequest", body)
        if refused is not None:
            return refused
        items = body["BatchItemRequest"]
        if len(items) > BATCH_MAX_ITEMS:
            raise business(
                f"The maximum number of payloads in a single BatchItemRequest is "
                f"{BATCH_MAX_ITEMS}; this request has {len(items)}.",
                "BatchItemRequest",
            )
        if request.arg("requestid") and any(len(str(i.get("bId", ""))) > 10 for i in items):
            raise business("With a requestid, each bId may have at most 10 characters.", "bId")
        answers = []
        for item in items:
            answer: dict[str, Any] = {"bId": item["bId"]} if "bId" in item else {}
            try:
                with self.lock:
                    answer.update(self._batch_item(company, item))
            except Refusal as refusal:
                answer["Fault"] = refusal.fault()
            answers.append(answer)
        return Reply({"BatchItemResponse": answers, **self._t(company)})

    def _batch_item(self, company: Company, item: dict[str, Any]) -> dict[str, Any]:
        if "Query" in item:
            return {"QueryResponse": self._query(company, item["Query"])}
        entities = [key for key in item if key in ENTITIES.values()]
        if len(entities) != 1:
            raise Refusal("500", "A batch item holds a query or one entity with its operation.")
        entity = entities[0]
        row = self._write(company, entity, str(item.get("operation", "")).lower(), item[entity])
        return {entity: row}

    def _cdc(self, request: SimRequest, company: Company) -> Reply:
        names = [n.strip() for n in (request.arg("entities") or "").split(",") if n.strip()]
        since_text = request.arg("changedSince")
        if not names:
            raise Refusal("2020", "Required parameter entities is missing in the request")
        if not since_text:
            raise Refusal("2020", "Required parameter changedSince is missing in the request")
        since = parse_moment(since_text, company.tz)
        if since is None:
            raise Refusal("2010", f"Property Name:changedSince {since_text!r} is invalid")
        if self.now() - since.timestamp() > CDC_LOOKBACK_DAYS * 86400:
            raise business(f"changedSince can be at most {CDC_LOOKBACK_DAYS} days back.",
                           "changedSince")  # fmt: skip
        remaining, responses = CDC_MAX_OBJECTS, []
        with self.lock:
            for name in names:
                entity = ENTITIES.get(name.lower())
                if entity not in CDC_ENTITIES:
                    raise Refusal("4001", f"Change data capture is not supported for {name}.")
                rows = company.changed_since(entity, since.timestamp())[:remaining]
                remaining -= len(rows)
                if rows:
                    responses.append({entity: rows, "startPosition": 1, "maxResults": len(rows)})
                else:
                    responses.append({})
        return Reply({"CDCResponse": [{"QueryResponse": responses}], **self._t(company)})

    def _upload(self, request: SimRequest, company: Company) -> Reply:
        if len(request.body) > UPLOAD_MAX_BYTES:
            raise business("An upload can be at most 100 MB.")
        content_type = request.header("content-type") or ""
        if not content_type.startswith("multipart/form-data"):
            raise Refusal("2010", "Property Name:Content-Type must be multipart/form-data")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        )
        files, metadata = {}, {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition") or ""
            number = name.rsplit("_", 1)[-1]
            if name.startswith("file_content_"):
                files[number] = (part.get_filename() or "", part.get_content_type(),
                                 part.get_payload(decode=True) or b"")  # fmt: skip
            elif name.startswith("file_metadata_"):
                raw = part.get_payload(decode=True) or b""
                try:
                    metadata[number] = json.loads(raw, parse_float=Decimal)
                except ValueError as exc:
                    raise Refusal("2010", f"Property Name:{name} is not JSON") from exc
        if not files:
            raise Refusal("2020", "Required parameter file_content_01 is missing in the request")
        answers = []
        for number, (file_name, part_type, content) in sorted(files.items()):
            meta = metadata.get(number, {})
            refused = self.contract_request(request, company, "Attachable", meta)
            if refused is not None:
                return refused
            meta.setdefault("FileName", file_name)
            meta.setdefault("ContentType", part_type)
            meta["Size"] = len(content)
            try:
                with self.lock:
                    row = company.create("Attachable", meta, self.now())
                    company.files[row["Id"]] = content
                    stored = company.table("Attachable")[row["Id"]]
                    stored["FileAccessUri"] = f"/v3/company/{company.realm_id}/download/{row['Id']}"
                    row = self._shown(company, "Attachable", company.get("Attachable", row["Id"]))
                answers.append({"Attachable": row})
            except Refusal as refusal:
                answers.append({"Fault": refusal.fault()})
        return Reply({"AttachableResponse": answers, **self._t(company)})

    def _download(self, company: Company, attachable_id: str) -> SimResponse:
        with self.lock:
            row = company.get("Attachable", attachable_id)
            row = self._shown(company, "Attachable", row)
        return SimResponse.text(row["TempDownloadUri"])

    def file_serve(self, request: SimRequest, ticket: str) -> SimResponse:
        with self.lock:
            found = self.downloads.get(ticket)
            if found is None or found[2] < self.now():
                return SimResponse.text("AccessDenied: Request has expired", status=403)
            realm_id, attachable_id, _ = found
            company = self.companies[realm_id]
            content = company.files.get(attachable_id)
            row = company.table("Attachable").get(attachable_id)
        if content is None or row is None:
            return SimResponse.text("NoSuchKey", status=404)
        return SimResponse(200, content, {"Content-Type": row.get("ContentType", "")})

    def _company_info(self, company: Company) -> dict[str, Any]:
        stamp = company.clock.stamp(company.created)
        address = {"Id": "1", "Line1": "1 Market Street", "City": "San Francisco",
                   "Country": company.country, "PostalCode": "94105"} if company.country == \
            "USA" else {"Id": "1", "Line1": "2 Shoreditch High Street", "City": "London",
                        "Country": company.country, "PostalCode": "E1 6JE"}  # fmt: skip
        return {
            "Id": "1",
            "SyncToken": "0",
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
            "CompanyName": company.name,
            "LegalName": company.name,
            "CompanyAddr": address,
            "LegalAddr": copy.deepcopy(address),
            "CompanyStartDate": company.clock.today(company.created).isoformat(),
            "FiscalYearStartMonth": "January",
            "Country": company.country,
            "SupportedLanguages": "en",
            "DefaultTimeZone": company.tz,
            "domain": "QBO",
            "sparse": False,
        }

    def _preferences(self, company: Company) -> dict[str, Any]:
        stamp = company.clock.stamp(company.created)
        return {
            "Id": "1",
            "SyncToken": "0",
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
            "AccountingInfoPrefs": {"UseAccountNumbers": True, "FirstMonthOfFiscalYear": "January"},
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": company.multicurrency,
                "HomeCurrency": {"value": company.home},
            },
            "domain": "QBO",
            "sparse": False,
        }

    def _preferences_update(self, request: SimRequest, company: Company) -> Reply:
        body = self._body(request)
        refused = self.contract_request(request, company, "Preferences", body)
        if refused is not None:
            return refused
        wanted = (body.get("CurrencyPrefs") or {}).get("MultiCurrencyEnabled")
        if wanted is not None and wanted != company.multicurrency:
            raise business(
                "Multicurrency can only be turned on in QuickBooks itself, and never off.",
                "MultiCurrencyEnabled",
            )
        raise Refusal("500", "The simulator keeps these preferences as they are.")

    def _rate_row(self, company: Company, source: str, day: date) -> dict[str, Any]:
        custom = company.custom_rates.get((source, day.isoformat()))
        if custom is not None:
            return copy.deepcopy(custom)
        stamp = company.clock.stamp(company.created)
        return {
            "SourceCurrencyCode": source,
            "TargetCurrencyCode": company.home,
            "Rate": company.rate_for(source, day),
            "AsOfDate": day.isoformat(),
            "SyncToken": "0",
            "MetaData": {"LastUpdatedTime": stamp},
            "domain": "QBO",
            "sparse": False,
        }

    def _rate_rows(self, company: Company, parsed: ql.Query) -> list[dict[str, Any]]:
        if not company.multicurrency:
            raise business("Multicurrency is not enabled for this company.")
        day = company.clock.today(self.now())
        sources = sorted(company.feed_rates)
        for condition in parsed.where:
            if condition.path == "AsOfDate" and condition.op == "=":
                day = date.fromisoformat(condition.values[0])
            if condition.path == "SourceCurrencyCode":
                sources = [v.upper() for v in condition.values]
        return [self._rate_row(company, s, day) for s in sources if s in company.feed_rates]

    def _exchange_rate(self, request: SimRequest, company: Company) -> Reply:
        if not company.multicurrency:
            raise business("Multicurrency is not enabled for this company.")
        if request.method == "GET":
            source = (request.arg("sourcecurrencycode") or "").upper()
            if not source:
                raise Refusal(
                    "2020", "Required parameter sourcecurrencycode is missing in the request"
                )
            day = _day(request.arg("asofdate")) or company.clock.today(self.now())
            if source == company.home or source not in company.feed_rates:
                raise business(f"There is no exchange rate for {source}.", "SourceCurrencyCode")
            with self.lock:
                return Reply({"ExchangeRate": self._rate_row(company, source, day),
                              **self._t(company)})  # fmt: skip
        body = self._body(request)
        refused = self.contract_request(request, company, "ExchangeRate", body)
        if refused is not None:
            return refused
        with self.lock:
            return Reply({"ExchangeRate": self._rate_set(company, body), **self._t(company)})

    def _rate_set(self, company: Company, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("SourceCurrencyCode", "Rate", "AsOfDate"):
            if body.get(name) is None:
                raise Refusal("2020", f"Required parameter {name} is missing in the request", name)
        source = str(body["SourceCurrencyCode"]).upper()
        if source == company.home:
            raise business("You can't set an exchange rate for the home currency.",
                           "SourceCurrencyCode")  # fmt: skip
        if source not in CURRENCY_NAMES or source not in company.feed_rates:
            raise business(f"The currency {source} is not supported.", "SourceCurrencyCode")
        target = str(body.get("TargetCurrencyCode") or company.home).upper()
        if target != company.home:
            raise business("Exchange rates are set against the home currency.",
                           "TargetCurrencyCode")  # fmt: skip
        rate = Decimal(body["Rate"])
        if rate <= 0:
            raise business("The exchange rate must be greater than zero.", "Rate")
        day = date.fromisoformat(str(body["AsOfDate"]))
        current = self._rate_row(company, source, day)
        if str(body.get("SyncToken", "0")) != current["SyncToken"]:
            raise Refusal("5010", "Stale Object Error : the exchange rate changed meanwhile.")
        row = {
            **current,
            "Rate": rate,
            "SyncToken": str(int(current["SyncToken"]) + 1),
            "MetaData": {"LastUpdatedTime": company.clock.stamp(self.now())},
        }
        company.custom_rates[(source, day.isoformat())] = row
        return copy.deepcopy(row)

    # --- limits ------------------------------------------------------------------------

    def _admit(self, company: Company, *, batch: bool) -> Reply | None:
        with self.lock:
            load = self.load.setdefault(company.realm_id, RealmLoad())
            now, limits = self.now(), self.limits
            if now - load.started >= limits.minute_seconds:
                load.started, load.used, load.batches = now, 0, 0
            refused = limits.enabled and (
                load.in_flight >= limits.concurrent
                or load.used >= limits.minute
                or (batch and load.batches >= limits.batch_minute)
            )
            if refused:
                self.rate_limited += 1
                headers = {}
                if limits.retry_after is not None:
                    headers["Retry-After"] = str(limits.retry_after)
                refusal = Refusal(
                    "3001", "The request limit was reached.", status=429, fault_type="SERVICE",
                    message=THROTTLED,
                )  # fmt: skip
                reply = self._refusal_reply(refusal, company)
                reply.headers.update(headers)
                return reply
            load.used += 1
            load.batches += int(batch)
            load.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, load.in_flight)
        return None

    # --- OAuth 2.0 ---------------------------------------------------------------------

    def _authenticate(self, request: SimRequest) -> AccessGrant | SimResponse:
        header = request.header("authorization") or ""
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        with self.lock:
            grant = self.access.get(token)
            if grant is None:
                return gateway_unauthorized("Token invalid", self.now())
            if grant.expires_at <= self.now():
                return gateway_unauthorized(f"Token expired: {token[:12]}", self.now())
        return grant

    def _client_auth(self, request: SimRequest) -> str | None:
        """Intuit's token endpoint takes the client's id and secret as HTTP Basic only."""
        header = request.header("authorization") or ""
        if not header.lower().startswith("basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None
        return client_id

    def authorize(self, request: SimRequest) -> SimResponse:
        client_id = request.arg("client_id") or ""
        redirect_uri = request.arg("redirect_uri") or ""
        client = self.clients.get(client_id)
        if (
            client is None
            or not redirect_uri
            or (client.redirect_uris and redirect_uri not in client.redirect_uris)
        ):
            return SimResponse.text("invalid_client: unknown client or redirect URI", status=400)
        state = request.arg("state") or ""
        scope = request.arg("scope") or ""
        if not state:
            return _redirect(redirect_uri, error="invalid_request")
        if request.arg("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        asked = set(scope.split())
        if not asked or not asked <= KNOWN_SCOPES or ACCOUNTING_SCOPE not in asked:
            return _redirect(redirect_uri, error="invalid_scope", state=state)
        pending = {"client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
                   "state": state}  # fmt: skip
        if self.auto_consent:
            return self._consent_grant(pending, self.consent_realm or self.realm_ids[0])
        ticket = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[f"ticket:{ticket}"] = pending
        choices = "".join(
            f'<label><input type="radio" name="realm_id" value="{c.realm_id}"'
            f"{' checked' if i == 0 else ''}> {html.escape(c.name)}</label><br>"
            for i, c in enumerate(self.companies.values())
        )
        page = (
            "<!doctype html><title>Intuit (simulator) · Connect</title>"
            "<h1>Bulwark wants to connect to your QuickBooks company</h1>"
            f'<form method="post"><input type="hidden" name="ticket" value="{ticket}">'
            f'{choices}<button name="consent" value="allow">Connect</button> '
            '<button name="consent" value="deny">Cancel</button></form>'
        )
        return SimResponse.text(page, content_type="text/html; charset=utf-8")

    def authorize_consent(self, request: SimRequest) -> SimResponse:
        form = request.form()
        with self.lock:
            pending = self.codes.pop(f"ticket:{form.get('ticket', '')}", None)
        if pending is None:
            return SimResponse.text("This request has expired.", status=400)
        if form.get("consent") != "allow":
            return _redirect(pending["redirect_uri"], error="access_denied", state=pending["state"])
        realm_id = form.get("realm_id") or self.realm_ids[0]
        if realm_id not in self.companies:
            return SimResponse.text("Unknown company.", status=400)
        return self._consent_grant(pending, realm_id)

    def _consent_grant(self, pending: dict[str, Any], realm_id: str) -> SimResponse:
        code = f"AB{secrets.token_urlsafe(30)}"
        with self.lock:
            self.codes[code] = {**pending, "realm_id": realm_id,
                                "expires": self.now() + CODE_SECONDS}  # fmt: skip
        return _redirect(pending["redirect_uri"], code=code, state=pending["state"],
                         realmId=realm_id)  # fmt: skip

    def token(self, request: SimRequest) -> SimResponse:
        client_id = self._client_auth(request)
        if client_id is None:
            return SimResponse.json({"error": "invalid_client"}, status=401)
        form = request.form()
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                pending = self.codes.pop(form.get("code", ""), None)
                if (
                    pending is None
                    or pending["expires"] < self.now()
                    or pending["client_id"] != client_id
                    or pending["redirect_uri"] != form.get("redirect_uri")
                ):
                    return SimResponse.json({"error": "invalid_grant"}, status=400)
                family = secrets.token_hex(8)
                return SimResponse.json(
                    self._tokens_issue(client_id, pending["realm_id"], family, pending["scope"])
                )
            if grant_type == "refresh_token":
                return self._refresh_exchange(client_id, form.get("refresh_token", ""))
        return SimResponse.json({"error": "unsupported_grant_type"}, status=400)

    def _refresh_exchange(self, client_id: str, token: str) -> SimResponse:
        grant, now = self.refresh.get(token), self.now()
        if (
            grant is None
            or grant.client_id != client_id
            or grant.expires_at <= now
            or (
                grant.superseded_at is not None
                and now - grant.superseded_at > REFRESH_GRACE_SECONDS
            )
        ):
            return SimResponse.json(
                {"error": "invalid_grant", "error_description": "Token invalid"}, status=400
            )
        for other in self.refresh.values():  # the newest so far is superseded from now
            if other.family == grant.family and other.superseded_at is None:
                other.superseded_at = now
        self.token_refreshes += 1
        return SimResponse.json(
            self._tokens_issue(client_id, grant.realm_id, grant.family, grant.scope)
        )

    def _tokens_issue(
        self, client_id: str, realm_id: str, family: str, scope: str
    ) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(48), f"AB{secrets.token_urlsafe(36)}"
        now = self.now()
        self.access[access] = AccessGrant(client_id, realm_id, family, now + ACCESS_SECONDS)
        self.refresh[refresh] = RefreshGrant(client_id, realm_id, family, scope,
                                             now + REFRESH_SECONDS)  # fmt: skip
        return {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": ACCESS_SECONDS,
            "refresh_token": refresh,
            "x_refresh_token_expires_in": REFRESH_SECONDS,
        }

    def revoke(self, request: SimRequest) -> SimResponse:
        if self._client_auth(request) is None:
            return SimResponse.json({"error": "invalid_client"}, status=401)
        try:
            token = str((request.json() or {}).get("token", ""))
        except ValueError:
            return SimResponse.json({"error": "invalid_request"}, status=400)
        with self.lock:
            grant = self.refresh.get(token) or self.access.get(token)
            if grant is not None:
                family = grant.family
                self.refresh = {k: v for k, v in self.refresh.items() if v.family != family}
                self.access = {k: v for k, v in self.access.items() if v.family != family}
        return SimResponse(status=200)


def _redirect(uri: str, **params: str) -> SimResponse:
    separator = "&" if "?" in uri else "?"
    query = urlencode({k: v for k, v in params.items() if v})
    return SimResponse(status=302, headers={"Location": f"{uri}{separator}{query}"})


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Refusal("2010", f"Property Name:asofdate {text!r} is not a date") from exc


def build(*, seed: int, port: int = 0) -> QuickBooksSimulator:
    """The simulator `manage.py simulators` runs: a consent page, not auto-consent."""
    return QuickBooksSimulator(seed_value=seed, port=port)
