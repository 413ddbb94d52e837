"""Wise webhooks: verify, de-duplicate, and queue a sync of the balance that moved.

Wise signs the raw body with RSA-SHA256 (`X-Signature-SHA256`, base64) using its own key;
the public half is configured on the connection. Deliveries are at-least-once and may
repeat under the same `X-Delivery-Id`, or (unconfirmed) a new one, so a delivery is
recognised by either its id or `balance_id:step_id:transaction_type`, and an event
without a step by the SHA-256 of its canonical JSON (less `sent_at`, which a resend
renews). The receiver only records and queues: the sync itself runs in a worker, so
Wise gets its 2xx in time.

The body is read with limits before anything is stored: at most `MAX_BODY_BYTES`, JSON
without NaN or Infinity, nested at most `MAX_DEPTH` deep, and the fields used typed
(ids are integers that fit a database column, `resource` an object). Anything else is
refused with 400, as an unsigned delivery is.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from accounts.models import CashAccount, SyncRun, WebhookDelivery, WiseConnection
from accounts.wise.sca import signature_valid
from accounts.wise.services import wise_account_sync_request, wise_connection_sync_request
from treasury.params import DB_INT_MAX

BALANCE_UPDATE = "balances#update"
# Wise's events are a kilobyte or two, nested three deep (event, data, resource).
MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 8


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


def _constant_refuse(name: str) -> None:
    raise WebhookRejected(f"The body holds {name}, which is not a JSON number.")


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in `value` (iteratively: no recursion to exhaust);
    a NUL in any string or key is refused (PostgreSQL cannot store it)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            raise WebhookRejected("The body holds a NUL character.")
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = [*item, *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _event_parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejected(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        event = json.loads(body, parse_float=Decimal, parse_constant=_constant_refuse)
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected("The body is not JSON.") from exc
    if not isinstance(event, dict):
        raise WebhookRejected("The body is not a JSON object.")
    if _depth(event) > MAX_DEPTH:
        raise WebhookRejected(f"The body nests deeper than {MAX_DEPTH} levels.")
    return event


def _typed(container: dict[str, Any], name: str, kind: type, where: str) -> Any:
    """`container[name]` if absent/null or of `kind` (ids: integers that fit a column)."""
    value = container.get(name)
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= DB_INT_MAX:
            raise WebhookRejected(f"{where}{name} is not an id (a positive integer).")
    elif not isinstance(value, kind):
        raise WebhookRejected(f"{where}{name} is not a JSON {kind.__name__}.")
    return value


@dataclass(frozen=True)
class BalanceEvent:
    """The fields of a `balances#update` Bulwark acts on, typed."""

    balance_id: int | None
    step_id: int | None
    transaction_type: str
    profile_id: int | None


def _balance_event(event: dict[str, Any]) -> BalanceEvent:
    data = _typed(event, "data", dict, "") or {}
    resource = _typed(data, "resource", dict, "data.") or {}
    return BalanceEvent(
        balance_id=_typed(data, "balance_id", int, "data."),
        step_id=_typed(data, "step_id", int, "data."),
        transaction_type=(_typed(data, "transaction_type", str, "data.") or "")[:20],
        profile_id=_typed(resource, "profile_id", int, "data.resource."),
    )


def _event_key(event: dict[str, Any], balance: BalanceEvent | None) -> str:
    """The event's identity: its balance, step and direction; else a digest of its body."""
    if balance is not None and balance.balance_id is not None and balance.step_id is not None:
        return f"{balance.balance_id}:{balance.step_id}:{balance.transaction_type}"
    content = {key: value for key, value in event.items() if key != "sent_at"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def wise_webhook_receive(
    *, body: bytes, signature: str | None, delivery_id: str | None, is_test: bool = False
) -> WebhookOutcome:
    """Record one delivery and queue the sync it calls for (once per delivery)."""
    if len(body) > MAX_BODY_BYTES:  # before the signature: no work for an oversized body
        raise WebhookRejected(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    _verified(body, signature)
    event = _event_parse(body)
    event_type = (_typed(event, "event_type", str, "") or "")[:60]
    balance = _balance_event(event) if event_type == BALANCE_UPDATE else None
    delivery_id = (delivery_id or None) and delivery_id[:100]
    event_key = _event_key(event, balance)
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    delivery_id=delivery_id,
                    event_key=event_key,
                    event_type=event_type,
                    is_test=is_test,
                    payload=event,
                )
        except IntegrityError:
            # Only a delivery already recorded is a duplicate; any other refusal by the
            # database must fail the request, so Wise redelivers instead of us dropping it.
            seen = WebhookDelivery.objects.filter(event_key=event_key)
            if delivery_id is not None:
                seen |= WebhookDelivery.objects.filter(delivery_id=delivery_id)
            if not seen.exists():
                raise
            return WebhookOutcome("duplicate")
        if is_test or balance is None:
            return WebhookOutcome("ignored")
        run = _sync_for(balance)
        if run is None:
            return WebhookOutcome("ignored")
        delivery.sync_run, delivery.account = run, run.account
        delivery.save(update_fields=["sync_run", "account"])
    return WebhookOutcome("queued", run)


def _sync_for(event: BalanceEvent) -> SyncRun | None:
    account = None
    if event.balance_id is not None:
        account = CashAccount.objects.filter(wise_balance_id=event.balance_id).first()
    if account is not None:
        return wise_account_sync_request(account=account, label=f"{account} (webhook)")
    if event.profile_id is None:
        return None
    connection = WiseConnection.objects.filter(profile_id=event.profile_id).first()
    if connection is None:  # a profile Bulwark does not follow
        return None
    return wise_connection_sync_request(connection=connection)  # a balance opened since
