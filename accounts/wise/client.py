"""The Wise Platform API over HTTP (httpx): profiles, balances, statements, rates.

One retry loop for every call: connection errors, timeouts, 5xx, malformed bodies and
429 (honouring `Retry-After`) are retried with jittered, capped exponential backoff; an
SCA challenge (403 with `x-2fa-approval`) is answered by signing the one-time token with
the configured private key. Each failure that is left has one exception class, all
subclasses of `WiseError`. Numbers are parsed as `Decimal`, times as aware UTC. The
client never touches the database: callers get plain dicts and frozen dataclasses.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import msgspec

from accounts.wise.sca import InvalidKeyError, one_time_token_sign

MAX_STATEMENT_SPAN = timedelta(days=469)
STATEMENT_FILE_FORMATS = ("pdf", "csv", "xml", "mt940")
USER_AGENT = "Bulwark treasury (+https://github.com/bulwark)"


class WiseError(Exception):
    """Any failure talking to Wise."""


class WiseAuthError(WiseError):
    """The token was refused (401) or lacks access (403 without an SCA challenge)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WiseStatementsRefused(WiseAuthError):
    """Wise gives this token no statements of the profile while it gives its balances: a
    personal token and a UK or EEA profile, which PSD2 keeps from personal tokens
    (docs.wise.com "Personal API token"). Statements come from files instead."""


class WiseScaRefused(WiseError):
    """A statement needs SCA and no key is configured, or Wise rejected the signature."""


class WiseRateLimited(WiseError):
    """Still rate limited after the retries, or asked to wait longer than we may."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WiseBadResponse(WiseError):
    """An answer we cannot use: a 4xx, or a body that is not the JSON Wise sends."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WiseUnavailable(WiseError):
    """Wise could not be reached or kept failing (connection errors, timeouts, 5xx)."""


@dataclass(frozen=True)
class WiseProfile:
    id: int
    type: str  # PERSONAL | BUSINESS
    name: str
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class WiseBalance:
    id: int
    currency: str
    type: str  # STANDARD | SAVINGS
    name: str | None
    amount: Decimal  # available to spend
    cash_amount: Decimal  # what the statement's running balance ends at
    reserved_amount: Decimal
    created_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class WiseRate:
    rate: Decimal
    source: str
    target: str
    time: datetime


# msgspec's decoder makes each number with a point a Decimal straight from its digits,
# in C: a quarter of the time of `json.loads(parse_float=Decimal)` on a statement page.
_JSON_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def wise_json_decode(content: bytes) -> Any:
    """A Wise response body as Python values, every number with a point as a Decimal
    (integers stay int). Raises ValueError when the body is not strict JSON (UTF-8, no
    NaN, no lone surrogate: what Wise sends)."""
    return _JSON_DECODER.decode(content)


def wise_time_parse(text: str) -> datetime:
    """Wise's times (`2025-03-04T09:12:00Z`, `.832Z`, `+0000`, `+01:00`) as aware UTC."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def wise_time_format(moment: datetime) -> str:
    """`2025-03-01T00:00:00.000Z`, as Wise's statement parameters are written."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def statement_ranges(
    start: datetime, end: datetime, span: timedelta = MAX_STATEMENT_SPAN
) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive `[a, b)` ranges covering `[start, end)`, none longer than `span`."""
    cursor = start
    while cursor < end:
        upper = min(cursor + span, end)
        yield cursor, upper
        cursor = upper


def _money(value: Mapping[str, Any] | None) -> Decimal:
    if not value:
        return Decimal(0)
    return Decimal(value["value"])


class WiseClient:
    """`WiseClient(base_url, token, private_key_pem=...)`; use as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        private_key_pem: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.private_key_pem = private_key_pem or None
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WiseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- endpoints ---------------------------------------------------------------------

    def profiles(self) -> list[WiseProfile]:
        items = self._get("/v2/profiles")
        return [
            WiseProfile(
                id=int(item["id"]),
                type=str(item.get("type", "")).upper(),
                name=item.get("businessName") or item.get("fullName") or f"Profile {item['id']}",
                raw=item,
            )
            for item in self._expect_list(items, "/v2/profiles")
        ]

    def balances(
        self,
        profile_id: int,
        types: tuple[str, ...] = ("STANDARD", "SAVINGS"),
    ) -> list[WiseBalance]:
        path = f"/v4/profiles/{profile_id}/balances"
        items = self._get(path, {"types": ",".join(types)})
        return [self._balance(item) for item in self._expect_list(items, path)]

    def balance(self, profile_id: int, balance_id: int) -> WiseBalance:
        return self._balance(self._get(f"/v4/profiles/{profile_id}/balances/{balance_id}"))

    def statement(
        self,
        profile_id: int,
        balance_id: int,
        currency: str,
        start: datetime,
        end: datetime,
        *,
        statement_type: str = "COMPACT",
    ) -> dict[str, Any]:
        """One statement as Wise sends it (Decimal numbers) for `[start, end)`.

        The span may not exceed 469 days; split longer ranges with `statement_ranges`.
        """
        path = f"/v1/profiles/{profile_id}/balance-statements/{balance_id}/statement.json"
        body = self._statement_get(path, currency, start, end, statement_type, raw=False)
        if not isinstance(body, dict) or not isinstance(body.get("transactions"), list):
            raise WiseBadResponse(f"{path}: the statement has no transactions list")
        return body

    def statement_file(
        self,
        profile_id: int,
        balance_id: int,
        currency: str,
        start: datetime,
        end: datetime,
        *,
        fmt: str,
    ) -> bytes:
        """One statement for `[start, end)` as the file Wise issues (`pdf`, `csv`, `xml`
        for CAMT.053, `mt940`), byte for byte: what the archive keeps."""
        if fmt not in STATEMENT_FILE_FORMATS:
            raise ValueError(f"Wise issues no statement.{fmt}")
        path = f"/v1/profiles/{profile_id}/balance-statements/{balance_id}/statement.{fmt}"
        return self._statement_get(path, currency, start, end, "COMPACT", raw=True)

    def _statement_get(
        self, path: str, currency: str, start: datetime, end: datetime, statement_type: str,
        *, raw: bool,
    ) -> Any:  # fmt: skip
        if end - start > MAX_STATEMENT_SPAN:
            raise ValueError(f"A Wise statement spans at most 469 days, not {end - start}")
        params = {
            "currency": currency,
            "intervalStart": wise_time_format(start),
            "intervalEnd": wise_time_format(end - timedelta(milliseconds=1)),
            "type": statement_type,
            "statementLocale": "en",
        }
        try:
            return self._get(path, params, raw=raw)
        except WiseScaRefused:
            raise
        except WiseAuthError as exc:
            if exc.status != 403:
                raise
            raise WiseStatementsRefused(
                "Wise does not give this API token the statements of this profile: a "
                "personal token cannot read the statements of UK and EEA accounts (PSD2). "
                "Import this balance's statements as files (Accounts > Import); its "
                "balance keeps syncing and is proved against the imported lines.",
                403,
            ) from exc

    def rates(
        self,
        *,
        source: str,
        target: str,
        at: datetime | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        group: str | None = None,
    ) -> list[WiseRate]:
        """`/v1/rates`: the latest rate, the rate at `at`, or a history from `start` to `end`."""
        params: dict[str, str] = {"source": source.upper(), "target": target.upper()}
        if at is not None:
            params["time"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if start is not None or end is not None:
            if start is None or end is None:
                raise ValueError("A rate history needs both start and end")
            params["from"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            params["to"] = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            params["group"] = group or "day"
        items = self._expect_list(self._get("/v1/rates", params), "/v1/rates")
        try:
            return [
                WiseRate(
                    rate=Decimal(item["rate"]),
                    source=item["source"],
                    target=item["target"],
                    time=wise_time_parse(item["time"]),
                )
                for item in items
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise WiseBadResponse(f"/v1/rates: unexpected rate entry ({exc})") from exc

    # --- the one retry loop ------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, str] | None = None, *, raw: bool = False) -> Any:
        attempt = 0
        sca_headers: dict[str, str] = {}
        while True:
            try:
                accept = {"Accept": "*/*"} if raw else {}
                response = self._http.get(path, params=params, headers={**accept, **sca_headers})
            except httpx.TransportError as exc:
                sca_headers = {}  # a one-time token may have been spent: start SCA afresh
                self._pause(attempt, f"{path}: {type(exc).__name__} {exc}", WiseUnavailable)
                attempt += 1
                continue
            status = response.status_code
            if status == 403 and "x-2fa-approval" in response.headers:
                sca_headers = self._sca_answer(path, response, signed=bool(sca_headers))
                continue
            if status == 401:
                raise WiseAuthError(f"Wise refused the API token ({_error_text(response)})", 401)
            if status == 403:
                raise WiseAuthError(f"Wise refused access to {path} ({_error_text(response)})", 403)
            if status == 429:
                sca_headers = {}
                wait = _retry_after(response)
                if wait is not None and wait > self.max_backoff:
                    raise WiseRateLimited(f"Wise asks to wait {wait:.0f} s before {path}", wait)
                self._pause(attempt, f"{path}: rate limited", WiseRateLimited, at_least=wait)
                attempt += 1
                continue
            if status >= 500 or status == 408:
                sca_headers = {}
                self._pause(attempt, f"{path}: Wise answered {status}", WiseUnavailable)
                attempt += 1
                continue
            if status >= 400:
                raise WiseBadResponse(
                    f"{path}: Wise answered {status}: {_error_text(response)}", status
                )
            if raw:
                return response.content
            try:
                return wise_json_decode(response.content)
            except ValueError:
                self._pause(attempt, f"{path}: the body is not valid JSON", WiseBadResponse)
                attempt += 1

    def _sca_answer(self, path: str, response: httpx.Response, *, signed: bool) -> dict[str, str]:
        if signed:
            raise WiseScaRefused(
                "Wise rejected the SCA signature: the public half of the configured private "
                "key is not registered with Wise (Settings > API tokens > Manage public keys)."
            )
        if not self.private_key_pem:
            raise WiseScaRefused(
                f"{path} needs strong customer authentication: add the private key whose "
                "public key is registered with Wise."
            )
        ott = response.headers["x-2fa-approval"]
        try:
            signature = one_time_token_sign(ott, self.private_key_pem)
        except InvalidKeyError as exc:
            raise WiseScaRefused(f"The configured SCA private key cannot sign: {exc}") from exc
        return {"x-2fa-approval": ott, "X-Signature": signature}

    def _pause(
        self, attempt: int, reason: str, error: type[WiseError], at_least: float | None = None
    ) -> None:
        """Sleep before the next attempt, or raise `error` when the retries are spent."""
        if attempt >= self.max_retries:
            message = f"{reason} (gave up after {attempt + 1} attempts)"
            if error is WiseRateLimited:
                raise WiseRateLimited(message, at_least)
            raise error(message)
        delay = min(self.max_backoff, self.backoff * 2**attempt)
        delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security
        self.sleep(max(delay, at_least or 0))

    @staticmethod
    def _expect_list(body: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise WiseBadResponse(f"{path}: expected a JSON list")
        return body

    @staticmethod
    def _balance(item: Mapping[str, Any]) -> WiseBalance:
        try:
            created = item.get("creationTime")
            return WiseBalance(
                id=int(item["id"]),
                currency=str(item["currency"]).upper(),
                type=str(item.get("type") or "STANDARD").upper(),
                name=item.get("name"),
                amount=_money(item.get("amount")),
                cash_amount=_money(item.get("cashAmount") or item.get("amount")),
                reserved_amount=_money(item.get("reservedAmount")),
                created_at=wise_time_parse(created) if created else None,
                raw=item,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WiseBadResponse(f"unexpected balance object ({exc})") from exc


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return int(value.strip())
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0)
    except (TypeError, ValueError):
        return None


def _error_text(response: httpx.Response) -> str:
    """Wise's error message from any of its three error shapes, or the status."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        if body.get("errors"):
            return "; ".join(str(e.get("message") or e.get("code")) for e in body["errors"])
        for key in ("error_description", "message", "error"):
            if body.get(key):
                return str(body[key])
    return f"HTTP {response.status_code}"
