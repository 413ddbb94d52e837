"""Opening an API client for an organisation, and keeping what a run learnt about its
budget. In audit-only mode the client refuses every write before it reaches the wire."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from ledger.models import BooksConnection, Organisation
from ledger.xero.client import WRITE_METHODS, XeroClient, XeroError
from ledger.xero.limits import Budget, SharedCounts
from ledger.xero.tokens import StoredTokens
from treasury import limits

# A call holds its slot at most this many HTTP timeouts (connect, send, wait, read): the
# slot of a process killed mid-call frees itself then, never under a live call.
SLOT_TTL_FACTOR = 4


class NotConnected(XeroError):
    pass


class AuditOnly(XeroError):
    """A write was attempted while the organisation is in audit-only mode."""


class GuardedClient(XeroClient):
    """The client of an organisation in audit-only mode: reads only."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if method.upper() in WRITE_METHODS:
            raise AuditOnly("Audit-only mode: Bulwark never writes to Xero")
        return super().request(method, path, **kwargs)


def client_open(organisation: Organisation, *, writes: bool = False) -> XeroClient:
    """A client for the organisation's live connection. `writes=True` is refused unless
    the owner chose "Bulwark posts"; without it the client refuses writes itself."""
    connection = (
        organisation.connections.filter(status=BooksConnection.Status.CONNECTED)
        .order_by("-created_at")
        .first()
    )
    if connection is None:
        raise NotConnected(f"{organisation.name} is not connected to Bulwark")
    if writes and not organisation.posts:
        raise AuditOnly("Audit-only mode: Bulwark never writes to Xero")
    tenant_id = organisation.tenant_id if connection.kind == BooksConnection.Kind.OAUTH else None
    return client_for_connection(connection, tenant_id=tenant_id, writes=writes)


def client_for_connection(
    connection: BooksConnection, *, tenant_id: str | None, writes: bool = False
) -> XeroClient:
    cls = XeroClient if writes else GuardedClient
    return cls(
        tokens=StoredTokens(connection.pk),
        tenant_id=tenant_id,
        base_url=settings.XERO_API_URL,
        timeout=settings.HTTP_TIMEOUT_SECONDS,
        slots=limits.semaphore(
            f"xero:{tenant_id or 'custom'}",
            settings.XERO_CONCURRENCY,
            ttl=SLOT_TTL_FACTOR * settings.HTTP_TIMEOUT_SECONDS,
        ),
        budget=Budget(
            day_reserve=settings.XERO_DAY_RESERVE,
            shared=SharedCounts(
                tenant_id or "custom",
                minute_limit=settings.XERO_MINUTE_LIMIT,
                day_reserve=settings.XERO_DAY_RESERVE,
            )
            if limits.shared()
            else None,
        ),
        max_wait_seconds=settings.XERO_MAX_WAIT_SECONDS,
    )


def budget_record(organisation: Organisation, budget: Budget) -> None:
    """Keep what Xero last said about the budget, and add the 429s counted (atomically:
    a push and a pull may finish together)."""
    values: dict[str, Any] = {"limits_seen_at": timezone.now()}
    if budget.day_remaining is not None:
        values["day_remaining"] = budget.day_remaining
    if budget.minute_remaining is not None:
        values["minute_remaining"] = budget.minute_remaining
    if budget.retries_429:
        values["retries_429"] = F("retries_429") + budget.retries_429
    Organisation.objects.filter(pk=organisation.pk).update(**values)
    organisation.refresh_from_db()
