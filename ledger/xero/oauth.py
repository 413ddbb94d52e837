"""Xero's identity service through Authlib's httpx client: the authorization-code flow
with PKCE (S256) and state, refresh with rotation, client credentials for a custom
connection, `/connections` and disconnecting.

Plain functions over settings; they return frozen dataclasses and never touch models.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.deprecate import AuthlibDeprecationWarning
from django.conf import settings

with warnings.catch_warnings():
    # Authlib 1.9 prefers the `httpx2` package and warns when it falls back to `httpx`,
    # which is the HTTP client this project standardises on: the fallback is intended.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

# Transport failures of the token endpoint worth a second try with the same refresh
# token: Xero keeps the previous refresh token valid for 30 minutes after rotating it,
# so a reply lost on the way back is recovered by asking again.
LOST_REPLY_ATTEMPTS = 3


class OAuthFailed(Exception):
    """The identity service refused or failed; `error` is its OAuth error code."""

    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        super().__init__(f"{error}: {description}" if description else error)


class InvalidGrant(OAuthFailed):
    """The code or refresh token is no longer valid: the owner must sign in again."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class Tenant:
    connection_id: str
    tenant_id: str
    tenant_name: str
    tenant_type: str
    auth_event_id: str


# Scopes of a person's grant, not of an API: a custom connection has neither a refresh
# token (offline_access) nor a user (the OpenID scopes).
USER_SCOPES = ("offline_access", "openid", "profile", "email")


def custom_connection_scopes() -> list[str]:
    """The API scopes a custom connection's token is asked for. The connection holds the
    scopes its organisation authorised; the client-credentials request may only narrow
    them, and Xero answers `invalid_scope` to any other, offline_access included
    (developer.xero.com "Custom connections")."""
    return [scope for scope in settings.XERO_SCOPES if scope not in USER_SCOPES]


def _client(redirect_uri: str | None = None, *, scopes: list[str] | None = None) -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.XERO_CLIENT_ID,
        client_secret=settings.XERO_CLIENT_SECRET,
        scope=" ".join(settings.XERO_SCOPES if scopes is None else scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        timeout=settings.HTTP_TIMEOUT_SECONDS,
    )


def _token_url() -> str:
    return f"{settings.XERO_IDENTITY_URL.rstrip('/')}/connect/token"


def _token_set(token: dict[str, Any]) -> TokenSet:
    expires_in = int(token.get("expires_in") or 1800)
    return TokenSet(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or "",
        expires_at=datetime.now(tz=UTC) + timedelta(seconds=expires_in),
        scope=str(token.get("scope") or ""),
    )


def _raise(exc: OAuthError) -> None:
    error = getattr(exc, "error", "") or "oauth_error"
    description = getattr(exc, "description", "") or ""
    if error == "invalid_grant":
        raise InvalidGrant(error, description) from exc
    raise OAuthFailed(error, description) from exc


def is_configured() -> bool:
    return bool(settings.XERO_CLIENT_ID and settings.XERO_CLIENT_SECRET)


def authorization_start(*, redirect_uri: str) -> AuthorizationRequest:
    """The URL to send the owner to, with a fresh state and PKCE verifier to keep."""
    verifier = generate_token(64)
    with _client(redirect_uri) as client:
        url, state = client.create_authorization_url(
            f"{settings.XERO_LOGIN_URL.rstrip('/')}/identity/connect/authorize",
            code_verifier=verifier,
        )
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


def code_exchange(*, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
    with _client(redirect_uri) as client:
        try:
            token = client.fetch_token(
                _token_url(),
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        except OAuthError as exc:
            _raise(exc)
        except (httpx.HTTPError, ValueError) as exc:
            raise OAuthFailed("unavailable", f"the identity service failed: {exc!r}") from exc
    return _token_set(token)


def token_refresh(*, refresh_token: str) -> TokenSet:
    """Exchange the refresh token for a new set (the refresh token rotates)."""
    for attempt in range(1, LOST_REPLY_ATTEMPTS + 1):
        with _client() as client:
            try:
                token = client.refresh_token(_token_url(), refresh_token=refresh_token)
            except OAuthError as exc:
                _raise(exc)
            except (httpx.TransportError, ValueError) as exc:
                if attempt == LOST_REPLY_ATTEMPTS:
                    raise OAuthFailed("unavailable", f"no reply to the refresh: {exc!r}") from exc
                continue
        result = _token_set(token)
        if not result.refresh_token:
            result = TokenSet(result.access_token, refresh_token, result.expires_at, result.scope)
        return result
    raise OAuthFailed("unavailable")  # pragma: no cover - the loop returns or raises


def client_credentials_token() -> TokenSet:
    """A custom connection's access token (no refresh token: ask again when it expires)."""
    with _client(scopes=custom_connection_scopes()) as client:
        try:
            token = client.fetch_token(_token_url(), grant_type="client_credentials")
        except OAuthError as exc:
            _raise(exc)
        except (httpx.HTTPError, ValueError) as exc:
            raise OAuthFailed("unavailable", f"the identity service failed: {exc!r}") from exc
    return _token_set(token)


def _api(access_token: str) -> httpx.Client:
    return httpx.Client(
        base_url=settings.XERO_API_URL.rstrip("/"),
        timeout=settings.HTTP_TIMEOUT_SECONDS,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )


def connections_list(*, access_token: str) -> list[Tenant]:
    try:
        with _api(access_token) as http:
            response = http.get("/connections")
    except httpx.HTTPError as exc:
        raise OAuthFailed("unavailable", f"Xero did not answer: {exc!r}") from exc
    if response.status_code != 200:
        raise OAuthFailed("connections", f"Xero answered {response.status_code}")
    return [
        Tenant(
            connection_id=row["id"],
            tenant_id=row["tenantId"].lower(),
            tenant_name=row.get("tenantName") or "",
            tenant_type=row.get("tenantType") or "",
            auth_event_id=row.get("authEventId") or "",
        )
        for row in json.loads(response.content)
    ]


def connection_delete(*, access_token: str, connection_id: str) -> bool:
    """Disconnect one tenant (`DELETE /connections/{id}`); False when it was already gone."""
    try:
        with _api(access_token) as http:
            response = http.delete(f"/connections/{connection_id}")
    except httpx.HTTPError as exc:
        raise OAuthFailed("unavailable", f"Xero did not answer: {exc!r}") from exc
    if response.status_code not in (204, 404):
        raise OAuthFailed("disconnect", f"Xero answered {response.status_code}")
    return response.status_code == 204
