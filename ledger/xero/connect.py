"""Connecting Bulwark to Xero: OAuth with PKCE (then choosing among the organisations
authorised) or a custom connection (client credentials for the one organisation it is
bound to), and disconnecting. Tokens are kept encrypted; one connection is live at a time."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import asdict

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ledger.books import BooksError, ConnectError, adapter_for
from ledger.models import BooksConnection, Organisation
from ledger.xero import oauth
from ledger.xero.client import AuthorizationFailed, XeroError
from ledger.xero.session import client_for_connection
from ledger.xero.tokens import StoredTokens

PROVIDER = Organisation.Provider.XERO


def connect_start(*, redirect_uri: str) -> oauth.AuthorizationRequest:
    if not oauth.is_configured():
        raise ConnectError("Set XERO_CLIENT_ID and XERO_CLIENT_SECRET to connect Xero.")
    return oauth.authorization_start(redirect_uri=redirect_uri)


def connect_finish(
    *,
    code: str,
    state: str,
    expected_state: str,
    code_verifier: str,
    redirect_uri: str,
    user: AbstractBaseUser,
) -> BooksConnection:
    """Exchange the code (PKCE), list the organisations, keep the tokens encrypted."""
    if not expected_state or not secrets.compare_digest(state, expected_state):
        raise ConnectError("The reply from Xero did not match this sign-in; try connecting again.")
    try:
        tokens = oauth.code_exchange(
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        tenants = oauth.connections_list(access_token=tokens.access_token)
    except oauth.OAuthFailed as exc:
        raise ConnectError(f"Xero refused the connection ({exc.error}).") from exc
    if not tenants:
        raise ConnectError("No Xero organisation was authorised; choose one at Xero.")
    with transaction.atomic():
        _connections_retire()
        connection = BooksConnection.objects.create(
            provider=PROVIDER,
            kind=BooksConnection.Kind.OAUTH,
            status=BooksConnection.Status.CHOOSING,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_expires_at=tokens.expires_at,
            scope=tokens.scope,
            tenants=[asdict(t) for t in tenants],
            connected_by=user,
        )
    if len(tenants) == 1:
        tenant_choose(connection=connection, tenant_id=tenants[0].tenant_id)
    return connection


def _connections_retire() -> None:
    BooksConnection.objects.exclude(status=BooksConnection.Status.DISCONNECTED).update(
        status=BooksConnection.Status.DISCONNECTED,
        access_token="",
        refresh_token="",
    )


def tenant_choose(*, connection: BooksConnection, tenant_id: str) -> Organisation:
    tenant = next((t for t in connection.tenants if t["tenant_id"] == tenant_id), None)
    if tenant is None:
        raise ConnectError("That organisation is not among those authorised at Xero.")
    organisation, _ = Organisation.objects.get_or_create(
        tenant_id=tenant_id, defaults={"name": tenant["tenant_name"], "provider": PROVIDER}
    )
    connection.organisation = organisation
    connection.status = BooksConnection.Status.CONNECTED
    connection.remote_connection_id = tenant["connection_id"]
    connection.auth_event_id = tenant["auth_event_id"]
    connection.save(
        update_fields=["organisation", "status", "remote_connection_id", "auth_event_id"]
    )
    _settings_read_quietly(organisation)
    return organisation


def custom_connect(*, user: AbstractBaseUser) -> Organisation:
    """A custom connection: client credentials for the one organisation it is bound to."""
    if not oauth.is_configured():
        raise ConnectError("Set XERO_CLIENT_ID and XERO_CLIENT_SECRET to connect Xero.")
    try:
        tokens = oauth.client_credentials_token()
    except oauth.OAuthFailed as exc:
        raise ConnectError(f"Xero refused the custom connection ({exc.error}).") from exc
    with transaction.atomic():
        _connections_retire()
        connection = BooksConnection.objects.create(
            provider=PROVIDER,
            kind=BooksConnection.Kind.CUSTOM,
            status=BooksConnection.Status.CONNECTED,
            access_token=tokens.access_token,
            access_expires_at=tokens.expires_at,
            scope=tokens.scope,
            connected_by=user,
        )
    # The organisation's id comes from the API itself: a custom connection has no
    # /connections list and sends no tenant header.
    try:
        with client_for_connection(connection, tenant_id=None) as client:
            info = client.organisation()
    except XeroError as exc:
        disconnect(connection=connection)
        raise ConnectError(f"Xero refused the custom connection: {exc}") from exc
    organisation, _ = Organisation.objects.get_or_create(
        tenant_id=info.organisation_id, defaults={"name": info.name, "provider": PROVIDER}
    )
    connection.organisation = organisation
    connection.save(update_fields=["organisation"])
    _settings_read_quietly(organisation)
    return organisation


def _settings_read_quietly(organisation: Organisation) -> None:
    # Connecting succeeded even if this read fails: the page offers "Read again".
    with contextlib.suppress(BooksError):
        adapter_for(organisation).chart_refresh()


def disconnect(*, connection: BooksConnection) -> None:
    """Disconnect at Xero (`DELETE /connections/{id}`), then forget the tokens."""
    if connection.kind == BooksConnection.Kind.OAUTH and connection.remote_connection_id:
        try:
            token = StoredTokens(connection.pk).access_token()
            oauth.connection_delete(
                access_token=token, connection_id=connection.remote_connection_id
            )
        except (AuthorizationFailed, oauth.OAuthFailed):
            pass  # already gone at Xero, or the token is dead: forgetting it is what is left
    connection.status = BooksConnection.Status.DISCONNECTED
    connection.access_token = connection.refresh_token = ""
    connection.save(update_fields=["status", "access_token", "refresh_token"])
