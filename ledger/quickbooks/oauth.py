"""Intuit's OAuth 2.0 for QuickBooks Online: the authorization-code flow, the token
exchange and the rolling refresh.

- The owner is sent to `appcenter.intuit.com/connect/oauth2` with the accounting scope
  and a `state`; Intuit sends them back with `code`, `state` and `realmId` (the company).
- The code is exchanged once at `oauth.platform.intuit.com/oauth2/v1/tokens/bearer`, with
  the client id and secret as HTTP Basic. Access tokens last an hour.
- Every refresh returns a new refresh token; the caller stores the newest (the one it
  replaced keeps working for 24 hours, which makes retrying a refresh whose reply was
  lost safe). Refresh tokens expire 100 days after issue (`x_refresh_token_expires_in`).

Plain functions over an `OAuthApp`; they return frozen dataclasses and never touch
models. Refreshing is not serialised here: the caller holds its lease on the stored
tokens while it refreshes, so two workers never race one refresh token.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
# A refresh whose reply was lost is asked again with the same refresh token.
LOST_REPLY_ATTEMPTS = 3


class OAuthFailed(Exception):
    """Intuit's OAuth service refused or failed; `error` is its OAuth error code."""

    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        super().__init__(f"{error}: {description}" if description else error)


class InvalidGrant(OAuthFailed):
    """The code or refresh token is no longer valid: the owner must connect again."""


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uri: str
    authorize_url: str = AUTHORIZE_URL
    token_url: str = TOKEN_URL
    revoke_url: str = REVOKE_URL
    scope: str = ACCOUNTING_SCOPE
    timeout: float = 20.0

    @classmethod
    def at(cls, base_url: str, **values: Any) -> OAuthApp:
        """An app whose three OAuth endpoints live under one host (the simulator)."""
        base = base_url.rstrip("/")
        return cls(
            authorize_url=f"{base}/connect/oauth2",
            token_url=f"{base}/oauth2/v1/tokens/bearer",
            revoke_url=f"{base}/v2/oauth2/tokens/revoke",
            **values,
        )


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str


@dataclass(frozen=True)
class Callback:
    code: str
    realm_id: str


def authorization_start(app: OAuthApp, *, state: str | None = None) -> Authorization:
    """Where to send the owner, with a fresh `state` the caller keeps for the callback."""
    state = state or secrets.token_urlsafe(24)
    query = urlencode(
        {
            "client_id": app.client_id,
            "response_type": "code",
            "scope": app.scope,
            "redirect_uri": app.redirect_uri,
            "state": state,
        }
    )
    return Authorization(url=f"{app.authorize_url}?{query}", state=state)


def callback_read(params: Mapping[str, str], *, expected_state: str) -> Callback:
    """The code and company from Intuit's redirect; refuses a wrong `state` or an error."""
    if params.get("error"):
        raise OAuthFailed(params["error"], params.get("error_description", ""))
    if not expected_state or not secrets.compare_digest(params.get("state", ""), expected_state):
        raise OAuthFailed("invalid_state", "the callback does not answer our request")
    code, realm_id = params.get("code", ""), params.get("realmId", "")
    if not code or not realm_id:
        raise OAuthFailed("invalid_request", "the callback has no code or realmId")
    return Callback(code=code, realm_id=realm_id)


def code_exchange(app: OAuthApp, *, code: str) -> TokenSet:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
    try:
        return _token_call(app, form)
    except httpx.TransportError as exc:
        raise OAuthFailed("unavailable", f"no reply from Intuit: {exc!r}") from exc


def token_refresh(app: OAuthApp, *, refresh_token: str) -> TokenSet:
    """A new access token and a new refresh token (store it: it is the newest)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    for attempt in range(1, LOST_REPLY_ATTEMPTS + 1):
        try:
            return _token_call(app, form)
        except (httpx.TransportError, _ServerError) as exc:
            if attempt == LOST_REPLY_ATTEMPTS:
                raise OAuthFailed("unavailable", f"no answer to the refresh: {exc!r}") from exc
    raise OAuthFailed("unavailable")  # pragma: no cover - the loop returns or raises


def token_revoke(app: OAuthApp, *, token: str) -> None:
    """Disconnect: revokes the refresh token (and the access tokens issued with it)."""
    try:
        with _http(app) as http:
            response = http.post(app.revoke_url, json={"token": token})
    except httpx.TransportError as exc:
        raise OAuthFailed("unavailable", f"no reply from Intuit: {exc!r}") from exc
    if response.status_code != 200:
        raise OAuthFailed("revoke", f"Intuit answered {response.status_code}")


class _ServerError(Exception):
    pass


def _http(app: OAuthApp) -> httpx.Client:
    return httpx.Client(
        timeout=app.timeout,
        auth=httpx.BasicAuth(app.client_id, app.client_secret),
        headers={"Accept": "application/json"},
    )


def _token_call(app: OAuthApp, form: dict[str, str]) -> TokenSet:
    with _http(app) as http:
        response = http.post(app.token_url, data=form)
    status = response.status_code
    if status >= 500:
        raise _ServerError(f"Intuit answered {status}")
    try:
        body = json.loads(response.content or b"{}")
    except ValueError as exc:
        raise OAuthFailed("unreadable", f"Intuit sent an unreadable reply ({status})") from exc
    if status != 200:
        error = str(body.get("error") or f"http_{status}")
        description = str(body.get("error_description") or "")
        if error == "invalid_grant":
            raise InvalidGrant(error, description)
        raise OAuthFailed(error, description)
    now = datetime.now(tz=UTC)
    refresh_seconds = body.get("x_refresh_token_expires_in")
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]),
        access_expires_at=now + timedelta(seconds=int(body.get("expires_in") or 3600)),
        refresh_expires_at=(
            now + timedelta(seconds=int(refresh_seconds)) if refresh_seconds else None
        ),
    )
