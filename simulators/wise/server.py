"""A loopback fake of the Wise Platform API (see /work/shared/reference/wise.md).

Endpoints: `GET /v2/profiles`, `GET /v4/profiles/{id}/balances?types=...`,
`GET /v4/profiles/{id}/balances/{balanceId}`, `GET /v1/profiles/{id}/balance-statements/
{balanceId}/statement.{json,csv,xml,mt940,pdf}` and `GET /v1/rates`, with Wise's shapes and
error bodies. On top of the base simulator's faults it adds what Wise does to a client:

- a Bearer token check (401 with Wise's auth error body);
- the SCA challenge on statements of profiles that require it: 403 with a one-time token
  in `x-2fa-approval`; the same request with that token and `X-Signature` (the token
  signed with RSA-SHA256, PKCS#1 v1.5, base64) passes if the signature verifies against a
  registered public key, else 403 `REJECTED`. An approval lasts `sca_approval_seconds`
  (Wise: 90 days), so set it to 0 to challenge every request;
- a per-minute rate limit per token (429 with `Retry-After` and `X-Rate-Limited-By`), and
  random 429s at `throttle_rate`;
- signed `balances#update` webhooks (`X-Signature-SHA256` over the raw body with the
  simulator's own key, whose public half is `webhook_public_key_pem` and `/_sim/webhook-key`)
  sent to `webhook_url` when a line is added with `transaction_add()`.

Control (`/_sim/...`, besides the base's): `state`, `webhook-key`, `public-keys` (POST a
PEM to register an SCA key), `sca` (POST `{"profile_id", "required", "approval_seconds"}`),
`throttle` (POST `{"rate", "retry_after", "limit_per_minute", "window_seconds"}`),
`webhook` (POST `{"url"}`), `transactions` (POST `{"balance_id", "amount", ...}`).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulators.base import SimRequest, SimResponse, SimulatorServer, json_dumps
from simulators.wise import exports
from simulators.wise.generator import (
    DECIMALS,
    PROFILE_BUSINESS,
    Balance,
    Business,
    business_generate,
    money,
    quantize,
    wise_time,
)
from simulators.wise.statement_pdf import statement_pdf

SIM_TOKEN = "sim-wise-token"  # noqa: S105 - the simulator's fixed test token
MAX_STATEMENT_DAYS = 469
NINETY_DAYS = 90 * 24 * 3600
ISSUER = {
    "name": "Wise US Inc.",
    "firstLine": "30 W. 26th Street, Sixth Floor",
    "city": "New York",
    "postCode": "10010",
    "stateCode": "NY",
    "country": "United States",
}

HOLDER_ADDRESS = {"addressFirstLine": "418 Alder Street", "city": "Portland", "postCode": "97205",
                  "stateCode": "OR", "countryName": "United States"}  # fmt: skip
UK_ISSUER = {"name": "Wise Payments Limited", "firstLine": "Worship Square, 65 Clifton Street",
             "city": "London", "postCode": "EC2A 4JE", "stateCode": "",
             "country": "United Kingdom"}  # fmt: skip
UK_HOLDER_ADDRESS = {"addressFirstLine": "12 Hoxton Square", "city": "London",
                     "postCode": "N1 6NU", "stateCode": "",
                     "countryName": "United Kingdom"}  # fmt: skip

# The statement file formats besides JSON: format -> (content type, renderer).
EXPORT_FORMATS: dict[str, tuple[str, Callable[[dict[str, Any]], str | bytes]]] = {
    "csv": ("text/csv", exports.statement_csv),
    "xml": ("application/xml", exports.statement_camt053),
    "mt940": ("text/plain", exports.statement_mt940),
    "pdf": ("application/pdf", statement_pdf),
}


def parse_wise_time(text: str) -> datetime:
    """`2025-03-01T00:00:00.000Z`, `...+0000`, `...+01:00` or a bare date, as aware UTC."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) == 10:
        value += "T00:00:00+00:00"
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class WiseSimulator(SimulatorServer):
    name = "wise"
    contracts = ("wise",)

    def __init__(
        self,
        *,
        seed: int = 1,
        port: int = 0,
        size: int = 2500,
        start: datetime | None = None,
        until: datetime | None = None,
        token: str = SIM_TOKEN,
        auto_convert: bool = False,
        draw_above: Decimal | None = None,
    ) -> None:
        super().__init__(port=port, seed=seed)
        now = datetime.now(UTC).replace(microsecond=0)
        self.until = until or now
        self.since = start or datetime(self.until.year - 2, 1, 1, tzinfo=UTC)
        self.size = size
        self.business: Business = business_generate(
            seed=seed, start=self.since, until=self.until, size=size,
            auto_convert=auto_convert, draw_above=draw_above,
        )  # fmt: skip
        self.tokens = {token}
        self.sca_required: set[int] = set()
        # UK/EEA profiles: PSD2 keeps their statements from personal tokens.
        self.uk_eea_profiles: set[int] = set()
        self.sca_approval_seconds = NINETY_DAYS
        self.sca_approved_until: dict[int, float] = {}
        self.sca_public_keys: list[rsa.RSAPublicKey] = []
        self.one_time_tokens: dict[str, int] = {}  # unused OTT -> profile id
        self.limit_per_minute = 1000
        self.window_seconds = 60.0
        self.throttle_rate = 0.0
        self.throttle_retry_after = 1
        self._window: dict[str, tuple[float, int]] = {}
        self.webhook_url: str | None = None
        self.webhook_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.webhook_public_key_pem = (
            self.webhook_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.webhooks_sent: list[dict[str, Any]] = []
        # Lines left out of statements (still in the balance), as Wise does with a line it
        # books late under an earlier date: the balance proof must notice.
        self.hidden_refs: set[str] = set()
        self._step = 5_000_000
        self.route("GET", r"/v2/profiles", self.profiles)
        self.route("GET", r"/v4/profiles/(?P<profile_id>\d+)/balances", self.balances)
        self.route(
            "GET", r"/v4/profiles/(?P<profile_id>\d+)/balances/(?P<balance_id>\d+)", self.balance
        )
        self.route(
            "GET",
            r"/v1/profiles/(?P<profile_id>\d+)/balance-statements/(?P<balance_id>\d+)"
            r"/statement\.(?P<fmt>json|csv|xml|mt940|pdf|xlsx|qif)",
            self.statement,
        )
        self.route("GET", r"/v1/rates", self.rates)

    # --- what tests read -----------------------------------------------------------------

    @property
    def line_count(self) -> int:
        return self.business.line_count

    def balances_of(self, profile_id: int = PROFILE_BUSINESS) -> list[Balance]:
        return [b for b in self.business.balances if b.profile_id == profile_id]

    def encode_all(self) -> None:
        """Serialise every line now (a real server has its JSON ready; benchmarks should
        not time the simulator's own encoding)."""
        with self.lock:
            for balance in self.business.balances:
                for index, line in enumerate(balance.lines):
                    if balance.encoded[index] is None:
                        balance.encoded[index] = json_dumps(line).encode()

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "lines": self.line_count,
            "start": wise_time(self.since),
            "until": wise_time(self.until),
            "balances": {
                str(b.id): {"currency": b.currency, "lines": len(b.lines), "amount": b.amount}
                for b in self.business.balances
            },
            "sca_required": sorted(self.sca_required),
            "webhook_url": self.webhook_url,
        }

    # --- Wise's errors ---------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> SimResponse:
        return SimResponse.json(
            {
                "timestamp": wise_time(datetime.now(UTC)),
                "status": status,
                "error": {
                    400: "Bad Request",
                    403: "Forbidden",
                    404: "Not Found",
                    405: "Method Not Allowed",
                    415: "Unsupported Media Type",
                    500: "Internal Server Error",
                }.get(status, "Error"),
                "message": message,
                "path": None,
            },
            status=status,
        )

    @staticmethod
    def errors(
        status: int,
        code: str,
        message: str,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SimResponse:
        return SimResponse.json(
            {"errors": [{"code": code, "message": message, "path": path, "arguments": []}]},
            status=status,
            headers=headers,
        )

    # --- auth and limits, before any route -------------------------------------------------

    def dispatch(self, request: SimRequest) -> SimResponse:
        if request.path.startswith("/_sim/"):
            return super().dispatch(request)
        refused = self._unauthenticated(request)
        if refused is not None:
            return refused
        limited = self._rate_limit(self._token(request))
        if limited is not None:
            return limited
        return super().dispatch(request)

    @staticmethod
    def _token(request: SimRequest) -> str:
        return (request.header("authorization") or "")[len("Bearer ") :].strip()

    def _unauthenticated(self, request: SimRequest) -> SimResponse | None:
        if not (request.header("authorization") or "").startswith("Bearer "):
            return SimResponse.json(
                {
                    "error": "unauthorized",
                    "error_description": "Full authentication is required to access this resource",
                },
                status=401,
            )
        if self._token(request) not in self.tokens:
            return SimResponse.json(
                {"error": "invalid_token", "error_description": "Invalid token"}, status=401
            )
        return None

    def contract_refusal(self, request: SimRequest, violations: list[Any]) -> SimResponse:
        """Wise checks the token first; a body it cannot read is a 415, a parameter it
        cannot bind a 400, both in its framework's error shape (the spec's own example)."""
        refused = self._unauthenticated(request)
        if refused is not None:
            return refused
        if any(v.where == "header.Content-Type" for v in violations):
            kind = request.header("content-type") or "none"
            return self.error_response(415, f"Content-Type '{kind}' is not supported")
        return self.error_response(400, "; ".join(v.message for v in violations))

    def _rate_limit(self, token: str) -> SimResponse | None:
        with self.lock:
            now = time.monotonic()
            started, count = self._window.get(token, (now, 0))
            if now - started >= self.window_seconds:
                started, count = now, 0
            random_throttle = self.throttle_rate and self.rng.random() < self.throttle_rate
            if count >= self.limit_per_minute or random_throttle:
                wait = (
                    self.throttle_retry_after
                    if random_throttle
                    else max(1, int(self.window_seconds - (now - started) + 0.999))
                )
                self._window[token] = (started, count)
                return SimResponse.json(
                    {
                        "errors": [
                            {
                                "code": "RATE_LIMIT_EXCEEDED",
                                "message": "Too many requests",
                                "path": None,
                                "arguments": [],
                            }
                        ]
                    },
                    status=429,
                    headers={"Retry-After": str(wait), "X-Rate-Limited-By": "wise-public-api"},
                )
            self._window[token] = (started, count + 1)
        return None

    # --- endpoints -------------------------------------------------------------------------

    def profiles(self, request: SimRequest) -> SimResponse:
        return SimResponse.json([p.as_wise() for p in self.business.profiles])

    def _profile_ok(self, profile_id: str) -> bool:
        return any(p.id == int(profile_id) for p in self.business.profiles)

    def balances(self, request: SimRequest, profile_id: str) -> SimResponse:
        types = request.arg("types")
        if not types:
            return self.errors(400, "NotNull", "types must not be empty", "types")
        wanted = {t.strip().upper() for t in types.split(",")}
        if not wanted <= {"STANDARD", "SAVINGS"}:
            return self.errors(400, "INVALID_TYPE", f"Unknown balance type in {types}", "types")
        if not self._profile_ok(profile_id):
            return self.errors(403, "FORBIDDEN", "No access to this profile")
        with self.lock:
            items = [b.as_wise() for b in self.balances_of(int(profile_id)) if b.type in wanted]
        return SimResponse.json(items)

    def balance(self, request: SimRequest, profile_id: str, balance_id: str) -> SimResponse:
        found = self.business.balance(int(balance_id))
        if found is None or found.profile_id != int(profile_id):
            return self.errors(404, "NOT_FOUND", f"Balance {balance_id} not found")
        with self.lock:
            return SimResponse.json(found.as_wise())

    def statement(
        self, request: SimRequest, profile_id: str, balance_id: str, fmt: str
    ) -> SimResponse:
        found = self.business.balance(int(balance_id))
        if found is None or found.profile_id != int(profile_id):
            return self.errors(404, "NOT_FOUND", f"Balance {balance_id} not found")
        currency = (request.arg("currency") or "").upper()
        if currency != found.currency:
            return self.errors(
                400,
                "INVALID_CURRENCY",
                f"Balance {balance_id} holds {found.currency}, not {currency or '-'}",
                "currency",
            )
        try:
            start = parse_wise_time(request.arg("intervalStart") or "")
            end = parse_wise_time(request.arg("intervalEnd") or "")
        except ValueError:
            return self.errors(
                400, "INVALID_INTERVAL", "intervalStart and intervalEnd must be ISO 8601 times"
            )
        if end < start:
            return self.errors(400, "INVALID_INTERVAL", "intervalEnd is before intervalStart")
        if end - start > timedelta(days=MAX_STATEMENT_DAYS):
            return self.errors(
                400,
                "INVALID_INTERVAL",
                f"The statement period cannot exceed {MAX_STATEMENT_DAYS} days",
            )
        if int(profile_id) in self.uk_eea_profiles:
            # Wise gives personal tokens no statements of UK and EEA accounts (PSD2;
            # docs.wise.com "Personal API token"): a bare 403, no SCA challenge to answer.
            return self.error_response(
                403,
                "Balance statements of UK and EEA accounts are not available to personal tokens",
            )
        challenge = self._sca(request, int(profile_id))
        if challenge is not None:
            return challenge
        approved = {"x-2fa-approval-result": "APPROVED"} if request.header("x-signature") else {}
        if fmt == "json":
            return self._statement_json(found, start, end, request, approved)
        if fmt not in EXPORT_FORMATS:
            return self.errors(404, "NOT_SUPPORTED", f"statement.{fmt} is not simulated")
        content_type, render = EXPORT_FORMATS[fmt]
        statement = json.loads(
            self._statement_json(found, start, end, request, {}).body, parse_float=Decimal
        )
        body = render(statement)
        return SimResponse(
            body=body if isinstance(body, bytes) else body.encode(),
            headers={"Content-Type": content_type, **approved},
        )

    def _statement_json(
        self,
        balance: Balance,
        start: datetime,
        end: datetime,
        request: SimRequest,
        headers: dict[str, str],
    ) -> SimResponse:
        """The statement, newest line first, from each line's cached JSON."""
        with self.lock:
            indexes = balance.window(start, end)
            parts = []
            for index in reversed(indexes):
                if self.hidden_refs and balance.lines[index]["referenceNumber"] in self.hidden_refs:
                    continue
                encoded = balance.encoded[index]
                if encoded is None:
                    encoded = balance.encoded[index] = json_dumps(balance.lines[index]).encode()
                parts.append(encoded)
            closing = balance.amount_at(end)
        profile = next(p for p in self.business.profiles if p.id == balance.profile_id)
        uk = profile.country == "GB"
        address = UK_HOLDER_ADDRESS if uk else HOLDER_ADDRESS
        holder = {"type": profile.type, "address": address, **profile.names()}
        head = {"accountHolder": holder, "issuer": UK_ISSUER if uk else ISSUER, "bankDetails": None}
        tail = {
            "endOfStatementBalance": money(closing, balance.currency),
            "query": {
                "intervalStart": request.arg("intervalStart"),
                "intervalEnd": request.arg("intervalEnd"),
                "currency": balance.currency,
                "accountId": balance.id,
            },
        }
        body = b"".join(
            [
                json_dumps(head).encode()[:-1],
                b', "transactions": [',
                b", ".join(parts),
                b"], ",
                json_dumps(tail).encode()[1:],
            ]
        )
        return SimResponse(200, body, {"Content-Type": "application/json", **headers})

    def rates(self, request: SimRequest) -> SimResponse:
        source, target = request.arg("source"), request.arg("target")
        book = self.business.rates
        codes = sorted(DECIMALS)
        pairs = (
            [(source.upper(), target.upper())]
            if source and target
            else [(s, t) for s in codes for t in codes if s != t]
        )
        if any(s not in DECIMALS or t not in DECIMALS for s, t in pairs):
            return SimResponse.json(
                {
                    "error": "Bad Request",
                    "message": "Invalid parameters",
                    "path": None,
                    "status": 400,
                    "timestamp": wise_time(datetime.now(UTC)),
                },
                status=400,
            )
        try:
            moments = self._rate_times(request)
        except ValueError as exc:
            return SimResponse.json(
                {
                    "error": "Bad Request",
                    "message": str(exc),
                    "path": None,
                    "status": 400,
                    "timestamp": wise_time(datetime.now(UTC)),
                },
                status=400,
            )
        items = [
            {
                "rate": book.rate(s, t, moment.date()),
                "source": s,
                "target": t,
                "time": moment.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            }
            for moment in moments
            for s, t in pairs
        ]
        return SimResponse.json(items)

    @staticmethod
    def _rate_times(request: SimRequest) -> list[datetime]:
        if request.arg("from") or request.arg("to"):
            start = parse_wise_time(request.arg("from") or "")
            end = parse_wise_time(request.arg("to") or "")
            step = {
                "day": timedelta(days=1),
                "hour": timedelta(hours=1),
                "minute": timedelta(minutes=1),
            }.get(request.arg("group") or "day")
            if step is None:
                raise ValueError("group must be day, hour or minute")
            if end < start or (end - start) / step > 10_000:
                raise ValueError("Invalid period: at most 10000 points")
            moments, moment = [], start
            while moment <= end:
                moments.append(moment)
                moment += step
            return moments
        at = request.arg("time")
        return [parse_wise_time(at) if at else datetime.now(UTC).replace(microsecond=0)]

    # --- SCA -------------------------------------------------------------------------------

    def _sca(self, request: SimRequest, profile_id: int) -> SimResponse | None:
        if profile_id not in self.sca_required:
            return None
        with self.lock:
            if self.sca_approved_until.get(profile_id, 0) > time.time():
                return None
            ott, signature = request.header("x-2fa-approval"), request.header("x-signature")
            issued_here = ott and self.one_time_tokens.pop(ott, None) == profile_id
            if issued_here and signature and self._signature_valid(ott, signature):
                self.sca_approved_until[profile_id] = time.time() + self.sca_approval_seconds
                return None
            fresh = str(uuid.UUID(bytes=self.rng.randbytes(16)))
            self.one_time_tokens[fresh] = profile_id
        return self.errors(
            403,
            "SCA_REQUIRED",
            "This request requires strong customer authentication",
            headers={"x-2fa-approval-result": "REJECTED", "x-2fa-approval": fresh},
        )

    # --- UK/EEA profiles ------------------------------------------------------------------

    def snapshot_restore(self, state: dict[str, Any]) -> None:
        state.setdefault("uk_eea_profiles", set())  # snapshots from before UK/EEA profiles
        super().snapshot_restore(state)

    def uk_eea_profile(self, profile_id: int = PROFILE_BUSINESS) -> None:
        """Make a profile a UK one (address and issuer): its statements are then refused
        to the personal token, as Wise refuses UK/EEA statements; balances still answer."""
        profile = next(p for p in self.business.profiles if p.id == profile_id)
        with self.lock:
            profile.country = "GB"
            self.uk_eea_profiles.add(profile_id)

    def statement_file(
        self, balance_id: int, start: datetime, end: datetime, fmt: str = "csv"
    ) -> bytes:
        """A statement as the owner downloads it from Wise's website (Statements, the
        balance, a format): the same lines as the API's, whatever the profile."""
        balance = self.business.balance(balance_id)
        assert balance is not None
        query = {
            "intervalStart": [wise_time(start)],
            "intervalEnd": [wise_time(end)],
            "currency": [balance.currency],
        }
        request = SimRequest("GET", "", query, {}, b"")
        body = self._statement_json(balance, start, end, request, {}).body
        if fmt == "json":
            return body
        _, render = EXPORT_FORMATS[fmt]
        rendered = render(json.loads(body, parse_float=Decimal))
        return rendered if isinstance(rendered, bytes) else rendered.encode()

    def _signature_valid(self, ott: str, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError:
            return False
        for key in self.sca_public_keys:
            try:
                key.verify(raw, ott.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
                return True
            except InvalidSignature:
                continue
        return False

    def sca_public_key_add(self, pem: str) -> None:
        key = serialization.load_pem_public_key(pem.encode())
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
            raise ValueError("Wise accepts RSA public keys of at least 2048 bits")
        with self.lock:
            if len(self.sca_public_keys) >= 5:
                raise ValueError("At most 5 public keys")
            self.sca_public_keys.append(key)

    def sca_require(
        self,
        profile_id: int = PROFILE_BUSINESS,
        *,
        required: bool = True,
        approval_seconds: float | None = None,
    ) -> None:
        with self.lock:
            (self.sca_required.add if required else self.sca_required.discard)(profile_id)
            self.sca_approved_until.pop(profile_id, None)
            if approval_seconds is not None:
                self.sca_approval_seconds = approval_seconds

    # --- live lines and webhooks -----------------------------------------------------------

    def transaction_add(
        self,
        balance_id: int,
        amount: Decimal,
        *,
        kind: str = "DEPOSIT",
        description: str = "",
        sender: str = "Late Client Inc",
        at: datetime | None = None,
        send_webhook: bool = True,
    ) -> dict[str, Any]:
        """Book a new line now (a payment arrives) and, if a URL is set, send its webhook."""
        balance = self.business.balance(balance_id)
        if balance is None:
            raise KeyError(f"no balance {balance_id}")
        value = quantize(Decimal(amount), balance.currency)
        with self.lock:
            if balance.amount + value < 0:
                raise ValueError("the balance cannot go below zero")
            moment = at or datetime.now(UTC)
            if balance.times and moment < balance.times[-1]:
                moment = balance.times[-1]
            self._step += 1
            prefix = {"DEPOSIT": "DEPOSIT", "CARD": "CARD"}.get(kind, "TRANSFER")
            details = {
                "type": kind,
                "description": description or f"Received money from {sender}",
                "senderName": sender,
                "paymentReference": f"Live {self._step}",
            }
            line = {
                "type": "CREDIT" if value >= 0 else "DEBIT",
                "date": wise_time(moment),
                "amount": money(value, balance.currency),
                "totalFees": money(quantize(Decimal(0), balance.currency), balance.currency),
                "details": details,
                "exchangeDetails": None,
                "runningBalance": None,
                "referenceNumber": self.business.reference(prefix),
            }
            balance.add(moment, line)
            self.until = max(self.until, moment)
            step_id = self._step
        self.snapshot_write()  # kept before anyone is told of it
        if send_webhook and self.webhook_url:
            self.webhook_send(self.balance_update_event(balance, line, step_id))
        return line

    def balance_update_event(
        self, balance: Balance, line: dict[str, Any], step_id: int
    ) -> dict[str, Any]:
        value = line["amount"]["value"]
        return {
            "data": {
                "resource": {
                    "type": "balance-account",
                    "id": 3_000_000 + balance.profile_id,
                    "profile_id": balance.profile_id,
                },
                "transaction_type": "credit" if value >= 0 else "debit",
                "amount": abs(value),
                "currency": balance.currency,
                "balance_id": balance.id,
                "channel_name": line["details"]["type"],
                "transfer_reference": line["referenceNumber"],
                "post_transaction_balance_amount": line["runningBalance"]["value"],
                "step_id": step_id,
                "occurred_at": line["date"],
            },
            "subscription_id": str(uuid.UUID(int=self.seed)),
            "event_type": "balances#update",
            "schema_version": "3.0.0",
            "sent_at": wise_time(datetime.now(UTC)),
        }

    def webhook_sign(self, body: bytes) -> str:
        signature = self.webhook_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def webhook_request(
        self, event: dict[str, Any], delivery_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Wise would send for `event` (for tests that post it)."""
        body = json_dumps(event).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature-SHA256": self.webhook_sign(body),
            "X-Delivery-Id": delivery_id or str(uuid.uuid4()),
        }
        return body, headers

    def webhook_send(self, event: dict[str, Any], delivery_id: str | None = None) -> int | None:
        """POST a signed event to `webhook_url`; the status, or None if unreachable."""
        body, headers = self.webhook_request(event, delivery_id)
        record: dict[str, Any] = {"event": event, "headers": headers, "status": None}
        self.webhooks_sent.append(record)
        assert self.webhook_url is not None
        try:
            response = httpx.post(self.webhook_url, content=body, headers=headers, timeout=5)
        except httpx.HTTPError:
            return None
        record["status"] = response.status_code
        return response.status_code

    # --- control ---------------------------------------------------------------------------

    def control(self, action: str, request: SimRequest) -> SimResponse:
        posted_json = request.method == "POST" and action != "public-keys"  # that one is PEM
        try:
            body = request.json() if posted_json else None
            return self._control_action(action, request, body or {})
        except (KeyError, ValueError, InvalidOperation, TypeError) as exc:
            return SimResponse.json({"error": str(exc)}, status=400)

    def _control_action(
        self, action: str, request: SimRequest, body: dict[str, Any]
    ) -> SimResponse:
        if action == "webhook-key":
            return SimResponse.text(
                self.webhook_public_key_pem, content_type="application/x-pem-file"
            )
        if action == "public-keys" and request.method == "POST":
            self.sca_public_key_add(request.body.decode())
            return SimResponse.json({"keys": len(self.sca_public_keys)}, status=201)
        if action == "sca" and request.method == "POST":
            self.sca_require(
                int(body.get("profile_id", PROFILE_BUSINESS)),
                required=bool(body.get("required", True)),
                approval_seconds=body.get("approval_seconds"),
            )
            return SimResponse.json({"sca_required": sorted(self.sca_required)})
        if action == "throttle" and request.method == "POST":
            with self.lock:
                self.throttle_rate = float(body.get("rate", self.throttle_rate))
                self.throttle_retry_after = int(body.get("retry_after", self.throttle_retry_after))
                self.limit_per_minute = int(body.get("limit_per_minute", self.limit_per_minute))
                self.window_seconds = float(body.get("window_seconds", self.window_seconds))
            return SimResponse.json({"rate": self.throttle_rate, "limit": self.limit_per_minute})
        if action == "uk-eea" and request.method == "POST":
            self.uk_eea_profile(int(body.get("profile_id", PROFILE_BUSINESS)))
            return SimResponse.json({"uk_eea_profiles": sorted(self.uk_eea_profiles)})
        if action == "webhook" and request.method == "POST":
            self.webhook_url = body.get("url") or None
            return SimResponse.json({"url": self.webhook_url})
        if action == "transactions" and request.method == "POST":
            line = self.transaction_add(
                int(body["balance_id"]),
                Decimal(str(body["amount"])),
                kind=body.get("type", "DEPOSIT"),
                description=body.get("description", ""),
            )
            return SimResponse.json(line, status=201)
        return super().control(action, request)


def build(*, seed: int, port: int = 0, size: int = 2500, **options: Any) -> WiseSimulator:
    """The registry's entry point (`SIMULATORS["wise"]`)."""
    return WiseSimulator(seed=seed, port=port, size=size, **options)


def sca_sign(ott: str, private_key_pem: str) -> str:
    """What a client sends as `X-Signature` (for tests that speak to the simulator by hand)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(
        key.sign(ott.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    ).decode()
