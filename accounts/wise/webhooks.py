"""Wise webhooks: verify, de-duplicate, and queue a sync of the balance that moved.

Wise signs the raw body with RSA-SHA256 (`X-Signature-SHA256`, base64) using its own key;
the public half is configured on the connection. Deliveries are at-least-once and may
repeat under the same `X-Delivery-Id`, or (unconfirmed) a new one, so a delivery is
recognised by either its id or `balance_id:step_id:transaction_type`. The receiver only
records and queues: the sync itself runs in a worker, so Wise gets its 2xx in time.
"""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import CashAccount, SyncRun, WebhookDelivery, WiseConnection
from accounts.wise.sca import signature_valid
from accounts.wise.services import wise_account_sync_request, wise_connection_sync_request

BALANCE_UPDATE = "balances#update"


class WebhookRejected(Exception):
    """A delivery that is not from Wise, or not readable: answered 400, nothing stored."""


@dataclass(frozen=True)
class WebhookOutcome:
    status: str  # queued | duplicate | ignored
    run: SyncRun | None = None


def _verified(body: bytes, signature: str | None) -> None:
    if not signature:
        raise WebhookRejected("The X-Signature-SHA256 header is missing.")
    keys = [
        key for key in WiseConnection.objects.values_list("webhook_public_key", flat=True) if key
    ]
    if not keys:
        raise WebhookRejected("No Wise webhook public key is configured.")
    if not any(signature_valid(body, signature, key) for key in keys):
        raise WebhookRejected("The signature does not match the body.")


def _event_key(data: dict[str, Any]) -> str | None:
    balance_id, step_id = data.get("balance_id"), data.get("step_id")
    if balance_id is None or step_id is None:
        return None
    return f"{balance_id}:{step_id}:{data.get('transaction_type') or ''}"


def wise_webhook_receive(
    *, body: bytes, signature: str | None, delivery_id: str | None, is_test: bool = False
) -> WebhookOutcome:
    """Record one delivery and queue the sync it calls for (once per delivery)."""
    _verified(body, signature)
    try:
        event = json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        raise WebhookRejected("The body is not JSON.") from exc
    if not isinstance(event, dict):
        raise WebhookRejected("The body is not a JSON object.")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    event_type = str(event.get("event_type") or "")[:60]
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    delivery_id=(delivery_id or None) and delivery_id[:100],
                    event_key=_event_key(data) if event_type == BALANCE_UPDATE else None,
                    event_type=event_type,
                    is_test=is_test,
                    payload=event,
                )
        except IntegrityError:
            return WebhookOutcome("duplicate")
        if is_test or event_type != BALANCE_UPDATE:
            return WebhookOutcome("ignored")
        run = _sync_for(data)
        if run is None:
            return WebhookOutcome("ignored")
        delivery.sync_run, delivery.account = run, run.account
        delivery.save(update_fields=["sync_run", "account"])
    return WebhookOutcome("queued", run)


def _sync_for(data: dict[str, Any]) -> SyncRun | None:
    account = CashAccount.objects.filter(wise_balance_id=data.get("balance_id")).first()
    if account is not None:
        return wise_account_sync_request(account=account, label=f"{account} (webhook)")
    profile_id = (data.get("resource") or {}).get("profile_id")
    connection = WiseConnection.objects.filter(profile_id=profile_id).first()
    if connection is None:  # a profile Bulwark does not follow
        return None
    return wise_connection_sync_request(connection=connection)  # a balance opened since
