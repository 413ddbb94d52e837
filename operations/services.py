"""Writes of the work side: connecting ConnectWise, queueing syncs, receiving callbacks.

Callbacks (ConnectWise's developer guide, "PSA Callbacks"): ConnectWise POSTs a JSON
payload announcing a record by id (`Type`, `Action`, `ID`) to the registered URL with the
id appended, signed in `x-content-signature`: base64(HMAC-SHA256(body)) keyed with the
SHA-256 digest of a signing key fetched from the payload's `Metadata.key_url`. That URL
comes with the payload, so it is trusted only on the connection's own ConnectWise host;
the key is cached an hour and fetched again, at most once a minute, when a signature
does not match (a rotated key). A verified invoice announcement becomes one
`InvoiceRefresh` row per invoice: the first queues a refresh a few seconds later, the
others only count, so a storm of the same change is read once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import SyncRun
from operations.connectwise import client as cw
from operations.models import ConnectWiseConnection, InvoiceRefresh
from operations.sync import RUN_KIND, connectwise_client_for

logger = logging.getLogger("bulwark.connectwise")

MAX_CALLBACK_BYTES = 1_000_000
SIGNING_KEY_SECONDS = 3600
REFETCH_SECONDS = 60
CALLBACK_DESCRIPTION = "Bulwark: invoices into the books"


class CallbackRejected(Exception):
    """A callback Bulwark will not act on; `str()` says why (nothing was recorded)."""


@dataclass(frozen=True)
class ConnectionDetails:
    site_url: str
    company_id: str
    public_key: str
    private_key: str
    client_id: str


# --- connecting -----------------------------------------------------------------------------


def connection_connect(
    *, details: ConnectionDetails, callback_base_url: str,
    transport: httpx.BaseTransport | None = None,
) -> tuple[ConnectWiseConnection, str]:  # fmt: skip
    """Check the keys with ConnectWise, save the connection (its keys encrypted), register
    the invoice callback and queue the first (full) sync. Returns the connection and a
    warning ('' when none). Raises ConnectWiseError, saving nothing, when the keys fail."""
    site_url = details.site_url.rstrip("/")
    timeout = settings.HTTP_TIMEOUT_SECONDS
    info = cw.company_info_fetch(site_url=site_url, company_id=details.company_id,
                                 timeout=timeout, transport=transport)  # fmt: skip
    probe = cw.ConnectWiseClient(
        site_url=site_url, codebase=info.codebase, company_id=details.company_id,
        public_key=details.public_key, private_key=details.private_key,
        client_id=details.client_id, timeout=timeout, transport=transport,
    )  # fmt: skip
    with probe:
        probe.billing_terms()  # any authenticated read proves the keys and the clientId
    connection, _ = ConnectWiseConnection.objects.update_or_create(
        site_url=site_url, company_id=details.company_id,
        defaults={
            "company_name": info.company_name, "codebase": info.codebase,
            "public_key": details.public_key, "private_key": details.private_key,
            "client_id": details.client_id,
        },
    )  # fmt: skip
    warning = callback_register(
        connection=connection, base_url=callback_base_url, transport=transport
    )
    connection_sync_request(connection=connection, full=True, label="first sync")
    return connection, warning


def callback_register(
    *, connection: ConnectWiseConnection, base_url: str,
    transport: httpx.BaseTransport | None = None,
) -> str:  # fmt: skip
    """Register (once) the Owner-level invoice callback; '' or why it could not be."""
    url = f"{base_url.rstrip('/')}/work/connectwise/{connection.pk}/callback/?id="
    try:
        with connectwise_client_for(connection, transport=transport) as client:
            entry = client.callback_register(
                url=url, type_="Invoice", level="Owner", object_id=1,
                description=CALLBACK_DESCRIPTION,
            )  # fmt: skip
    except cw.ConnectWiseError as exc:
        logger.warning("Could not register the ConnectWise callback of %s: %s", connection, exc)
        return (
            f"ConnectWise did not register the callback ({exc}); changes arrive with the "
            "15-minute poll instead."
        )
    connection.callback_id, connection.callback_url = entry.id, url
    connection.save(update_fields=["callback_id", "callback_url", "updated_at"])
    return ""


# --- syncs -------------------------------------------------------------------------------


def connection_sync_request(
    *, connection: ConnectWiseConnection, full: bool = False, label: str = ""
) -> SyncRun:
    """A queued sync of the connection, sent to the worker once this transaction commits."""
    from operations.tasks import connectwise_sync

    run = SyncRun.objects.create(
        kind=RUN_KIND, label=label or str(connection),
        detail={"connection": connection.pk, "full": full},
    )  # fmt: skip
    transaction.on_commit(lambda: connectwise_sync.delay(connection.pk, run.pk, full))
    return run


def connection_run_requeue(run: SyncRun) -> SyncRun | None:
    """The runs sweep's re-queue of an interrupted sync; it resumes where the cursor is."""
    connection = ConnectWiseConnection.objects.filter(pk=run.detail.get("connection")).first()
    if connection is None:
        return None
    full = bool(run.detail.get("full"))
    return connection_sync_request(connection=connection, full=full, label=f"{run.label} (again)")


# --- callbacks -------------------------------------------------------------------------------


def _trusted_hosts(connection: ConnectWiseConnection) -> set[str]:
    api = cw.api_root(connection.site_url, connection.codebase)
    return {urlsplit(connection.site_url).netloc.lower(), urlsplit(api).netloc.lower()}


def _signing_key(connection: ConnectWiseConnection, key_url: str, *, fresh: bool) -> bytes:
    parts = urlsplit(key_url)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in _trusted_hosts(
        connection
    ):
        raise CallbackRejected(f"the signing key's address {key_url!r} is not {connection}'s")
    cache_key = f"connectwise:signing-key:{hashlib.sha256(key_url.encode()).hexdigest()}"
    key = None if fresh else cache.get(cache_key)
    if key is None:
        token = base64.b64encode(
            f"{connection.company_id}+{connection.public_key}:{connection.private_key}".encode()
        ).decode()
        headers = {"Authorization": f"Basic {token}", "clientId": connection.client_id}
        try:
            reply = httpx.get(key_url, headers=headers, timeout=settings.HTTP_TIMEOUT_SECONDS)
            key = (
                str(json.loads(reply.content)["signing_key"]) if reply.status_code == 200 else None
            )
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            key = None
        if not key:
            raise CallbackRejected("ConnectWise's signing key could not be read")
        cache.set(cache_key, key, SIGNING_KEY_SECONDS)
    return hashlib.sha256(key.encode()).digest()


def _refetch_allowed(key_url: str) -> bool:
    """A rotated key is fetched again at most once a minute, however many callbacks fail."""
    marker = f"connectwise:signing-key-refetch:{hashlib.sha256(key_url.encode()).hexdigest()}"
    return bool(cache.add(marker, True, REFETCH_SECONDS))


def _signed(key: bytes, body: bytes, signature: str) -> bool:
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature.strip())


def _payload(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_CALLBACK_BYTES:
        raise CallbackRejected("the callback is larger than 1 MB")
    try:
        payload = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRejected("the callback is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("Metadata"), dict):
        raise CallbackRejected("the callback has no Metadata")
    return payload


def callback_receive(*, connection_id: int, body: bytes, signature: str | None) -> str:
    """Verify a callback and queue the refresh of the invoice it announces: 'queued',
    'coalesced' (a refresh is already waiting) or 'ignored' (not an invoice)."""
    connection = ConnectWiseConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise CallbackRejected("no such ConnectWise connection")
    if not signature:
        raise CallbackRejected("the callback is not signed (x-content-signature)")
    payload = _payload(body)
    key_url = str(payload["Metadata"].get("key_url") or "")
    if not _signed(_signing_key(connection, key_url, fresh=False), body, signature) and not (
        _refetch_allowed(key_url)
        and _signed(_signing_key(connection, key_url, fresh=True), body, signature)
    ):
        raise CallbackRejected("the signature does not match the body")
    if str(payload.get("CompanyId") or "").lower() != connection.company_id.lower():
        raise CallbackRejected("the callback is from another ConnectWise company")
    record_id = payload.get("ID")
    if str(payload.get("Type") or "").lower() != "invoice":
        return "ignored"
    if isinstance(record_id, bool) or not isinstance(record_id, int):
        raise CallbackRejected("the callback names no invoice id")
    return invoice_refresh_request(
        connection=connection, cw_id=record_id, action=str(payload.get("Action") or "")
    )


def invoice_refresh_request(*, connection: ConnectWiseConnection, cw_id: int, action: str) -> str:
    """One waiting refresh per invoice: 'queued' for the first announcement, then
    'coalesced' while it waits."""
    from operations.tasks import connectwise_invoice_refresh

    now = timezone.now()
    with transaction.atomic():
        counted = InvoiceRefresh.objects.filter(connection=connection, cw_id=cw_id).update(
            announced=F("announced") + 1, last_at=now, action=action
        )
        if counted:
            return "coalesced"
        try:
            with transaction.atomic():
                InvoiceRefresh.objects.create(
                    connection=connection, cw_id=cw_id, action=action, first_at=now, last_at=now
                )
        except IntegrityError:  # a concurrent announcement created it first
            InvoiceRefresh.objects.filter(connection=connection, cw_id=cw_id).update(
                announced=F("announced") + 1, last_at=now, action=action
            )
            return "coalesced"
        delay = settings.CONNECTWISE_CALLBACK_DELAY_SECONDS
        transaction.on_commit(
            lambda: connectwise_invoice_refresh.apply_async((connection.pk, cw_id), countdown=delay)
        )
    return "queued"


def refresh_done(refresh: InvoiceRefresh, *, started_at: Any) -> bool:
    """Remove the waiting refresh once read; False when it was announced again meanwhile
    (the caller queues it again)."""
    deleted, _ = InvoiceRefresh.objects.filter(pk=refresh.pk, last_at__lte=started_at).delete()
    return bool(deleted)


def refresh_stale_cutoff() -> Any:
    return timezone.now() - timedelta(minutes=15)
