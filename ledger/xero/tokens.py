"""The stored token set of a connection, refreshed by one caller at a time.

Refresh tokens rotate on every use, so two callers refreshing at once would each spend
the same token, and one of them would store a token Xero has already replaced. A
refresh therefore happens under a **lease** on the connection row: a conditional UPDATE
that only one caller can win (it works the same on SQLite and PostgreSQL, and a lease
left by a killed process simply expires). The others wait and use the winner's token.

A refresh whose reply is lost (or a process killed before it stored the new set) is
recovered by refreshing again with the same token: Xero honours the previous refresh
token for 30 minutes (`oauth.token_refresh` retries; a later run also can).
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ledger.models import BooksConnection
from ledger.xero import oauth
from ledger.xero.client import AuthorizationFailed

LEASE_SECONDS = 30
EARLY_REFRESH = timedelta(seconds=60)
WAIT_SECONDS = 45


class StoredTokens:
    """`TokenSource` for `XeroClient`, backed by a `BooksConnection` row."""

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id
        self.owner = secrets.token_hex(8)

    def _load(self) -> BooksConnection:
        return BooksConnection.objects.get(pk=self.connection_id)

    def access_token(self) -> str:
        connection = self._load()
        if connection.status not in (
            BooksConnection.Status.CONNECTED,
            BooksConnection.Status.CHOOSING,
        ):
            raise AuthorizationFailed("Xero is not connected")
        if _fresh(connection):
            return connection.access_token
        return self.refreshed(connection.access_token)

    def refreshed(self, failed_token: str) -> str:
        """A valid token other than `failed_token`, refreshing it if nobody else has."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            connection = self._load()
            if connection.access_token != failed_token and _fresh(connection):
                return connection.access_token
            if connection.status == BooksConnection.Status.RECONSENT:
                raise AuthorizationFailed("Xero asks for signing in again")
            if self._lease_take():
                try:
                    return self._refresh(failed_token)
                finally:
                    self._lease_release()
            if time.monotonic() > deadline:
                raise AuthorizationFailed("A token refresh by another process did not finish")
            time.sleep(0.05)

    def _lease_take(self) -> bool:
        now = timezone.now()
        return bool(
            BooksConnection.objects.filter(pk=self.connection_id)
            .filter(Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now))
            .update(
                refresh_lease_until=now + timedelta(seconds=LEASE_SECONDS),
                refresh_lease_owner=self.owner,
            )
        )

    def _lease_release(self) -> None:
        BooksConnection.objects.filter(
            pk=self.connection_id, refresh_lease_owner=self.owner
        ).update(refresh_lease_until=None, refresh_lease_owner="")

    def _refresh(self, failed_token: str) -> str:
        connection = self._load()  # re-read under the lease: someone may have just finished
        if connection.access_token != failed_token and _fresh(connection):
            return connection.access_token
        try:
            if connection.kind == BooksConnection.Kind.CUSTOM:
                tokens = oauth.client_credentials_token()
            else:
                tokens = oauth.token_refresh(refresh_token=connection.refresh_token)
        except oauth.InvalidGrant as exc:
            BooksConnection.objects.filter(pk=self.connection_id).update(
                status=BooksConnection.Status.RECONSENT,
                error="Xero no longer accepts the stored authorisation; connect again.",
            )
            raise AuthorizationFailed("Xero asks for signing in again") from exc
        except oauth.OAuthFailed as exc:
            raise AuthorizationFailed(f"Token refresh failed: {exc}") from exc
        connection.access_token = tokens.access_token
        connection.refresh_token = tokens.refresh_token or connection.refresh_token
        connection.access_expires_at = tokens.expires_at
        connection.scope = tokens.scope or connection.scope
        connection.refreshed_at = timezone.now()
        connection.refresh_count += 1
        connection.save(
            update_fields=[
                "access_token",
                "refresh_token",
                "access_expires_at",
                "scope",
                "refreshed_at",
                "refresh_count",
            ]
        )
        return tokens.access_token


def _fresh(connection: BooksConnection) -> bool:
    return bool(
        connection.access_token
        and connection.access_expires_at
        and connection.access_expires_at > timezone.now() + EARLY_REFRESH
    )
