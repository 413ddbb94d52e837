"""Reading ConnectWise into the mirror: a full sync, incremental passes by
`_info/lastUpdated`, and the refresh of one invoice a callback announced.

The house sync pattern, per connection:

1. take the connection's lease (one conditional UPDATE: free, expired, or left by a
   process of this host that no longer runs, which `accounts.runs` recognises); a second
   sync of the same connection records SKIPPED and reads nothing;
2. the setup tables (tax codes, billing terms, currencies) and the companies changed
   since their cursor;
3. the invoices changed since the cursor minus an overlap (`lastUpdated` has whole
   seconds), in id order, 50 at a time: only an invoice whose header differs from the
   stored one has its lines and payments read, and each batch is stored with the
   cursor's position (`after_id`) in one transaction, so a run killed mid-way resumes
   after the last batch stored and repeats nothing;
4. when the pass ends the cursor moves to the newest `lastUpdated` stored.

Every record is upserted on (connection, ConnectWise id) and written only when its
fingerprint (every stored value) changed, so reading a record twice changes nothing.
An amount finer than its currency's minor unit, or figures that do not add up, stop the
run with an error naming the invoice; nothing of that batch is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import SyncRun
from accounts.runs import run_interrupted_mark
from accounts.wise.sync import sync_run_finish, sync_run_start
from operations.connectwise import client as cw
from operations.models import (
    BillingTerm,
    Company,
    ConnectWiseConnection,
    Currency,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    SyncCursor,
    TaxCode,
)
from treasury.money import InexactAmountError, UnknownCurrencyError, currency_validate, to_minor
from treasury.processes import holder_is_dead, process_name

logger = logging.getLogger("bulwark.connectwise")

RUN_KIND = "CONNECTWISE"  # SyncRun.kind of a connection's sync
BATCH = 50  # invoices per transaction (and per `invoice/id in (...)` of their lines)
TRANSIENT_ERRORS = (cw.Unavailable, cw.RateLimited, cw.OutcomeUnknown)
INTERRUPTED = "Interrupted: the process running this sync stopped; a later sync resumes it."


class LeaseBusy(Exception):
    """Another sync holds this connection."""


class LeaseLost(Exception):
    """Another sync took this connection's lease (ours had expired): stop, store nothing."""


class RecordRefused(ValueError):
    """ConnectWise sent a record Bulwark will not store as it is (named in the message)."""


def connectwise_client_for(
    connection: ConnectWiseConnection, **options: Any
) -> cw.ConnectWiseClient:
    return cw.ConnectWiseClient(
        site_url=connection.site_url,
        codebase=connection.codebase,
        company_id=connection.company_id,
        public_key=connection.public_key,
        private_key=connection.private_key,
        client_id=connection.client_id,
        timeout=settings.HTTP_TIMEOUT_SECONDS,
        **options,
    )


# --- the lease ------------------------------------------------------------------------------


def _lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.CONNECTWISE_SYNC_LEASE_SECONDS)


def lease_take(connection: ConnectWiseConnection, owner: str) -> bool:
    """Take the connection's lease if free, expired, or left by a dead local process; the
    run that held it then is marked interrupted (unless it is this very run)."""
    rows = ConnectWiseConnection.objects.filter(pk=connection.pk)
    previous = rows.values_list("lease_owner", flat=True).first() or ""
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now())
    taken = rows.filter(free).update(lease_owner=owner, lease_until=_lease_until())
    if not taken and previous and holder_is_dead(previous):
        taken = rows.filter(lease_owner=previous).update(
            lease_owner=owner, lease_until=_lease_until()
        )
    # An owner is `host:pid:token:run:nonce` (`lease_owner_for`).
    held_by, ours = previous.split(":")[3:4], owner.split(":")[3:4]
    if taken and held_by and held_by[0].isdigit() and held_by != ours:
        run_interrupted_mark(int(held_by[0]), INTERRUPTED)
    return bool(taken)


def lease_renew(connection: ConnectWiseConnection, owner: str) -> None:
    renewed = ConnectWiseConnection.objects.filter(pk=connection.pk, lease_owner=owner).update(
        lease_until=_lease_until()
    )
    if not renewed:
        raise LeaseLost(f"another sync took over {connection} (this one ran past its lease)")


def lease_release(connection: ConnectWiseConnection, owner: str) -> None:
    ConnectWiseConnection.objects.filter(pk=connection.pk, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


def lease_owner_for(run_id: int | str) -> str:
    return f"{process_name()}:{run_id}:{uuid.uuid4().hex[:8]}"


# --- normalising --------------------------------------------------------------------------


def _fingerprint(values: dict[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _places(value: Decimal, places: int, what: str) -> Decimal:
    """`value` unchanged when it has at most `places` decimals (the column's); refused
    otherwise, as the database would round it silently."""
    try:
        exact = value.is_finite() and value == value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        exact = False
    if not exact:
        raise RecordRefused(f"{what} is {value}, finer than {places} decimal places")
    return value


def _currency(code: str, what: str) -> str:
    try:
        return currency_validate(code)
    except UnknownCurrencyError as exc:
        raise RecordRefused(f"{what} has no ISO 4217 currency ({code!r})") from exc


def invoice_fields(invoice: cw.Invoice) -> dict[str, Any]:
    what = f"ConnectWise invoice {invoice.number} (id {invoice.id})"
    currency = _currency(invoice.currency, what)
    amounts = {}
    for name in ("subtotal", "sales_tax", "total", "payments", "credits", "balance"):
        value = getattr(invoice, name)
        try:
            amounts[f"{name}_minor"] = to_minor(value, currency)
        except InexactAmountError as exc:
            raise RecordRefused(f"{what}: {name} {value} is finer than {currency} allows") from exc
    if invoice.balance != invoice.total - invoice.payments - invoice.credits:
        raise RecordRefused(
            f"{what}: balance {invoice.balance} is not total {invoice.total} less payments "
            f"{invoice.payments} and credits {invoice.credits}"
        )
    return {
        "cw_updated_at": invoice.updated_at,
        "raw": dict(invoice.raw),
        "number": invoice.number,
        "type": invoice.type,
        "status": invoice.status,
        "company_cw_id": invoice.company.id,
        "company_name": invoice.company.name,
        "date": invoice.date,
        "due_date": invoice.due_date,
        "currency": currency,
        "billing_terms_cw_id": invoice.billing_terms_id,
        "tax_code_cw_id": invoice.tax_code_id,
        "taxable": invoice.taxable,
        "reference": invoice.reference,
        "customer_po": invoice.customer_po,
        "apply_to_type": invoice.apply_to_type,
        "apply_to_id": invoice.apply_to_id,
        "deleted_at": None,
        **amounts,
    }


def line_fields(line: cw.InvoiceLine, position: int) -> dict[str, Any]:
    what = f"line {line.kind} {line.source_id} of invoice {line.invoice_id}"
    return {
        "position": position,
        "kind": line.kind,
        "source_id": line.source_id,
        "description": line.description,
        "quantity": _places(line.quantity, 6, f"the quantity of {what}"),
        "unit_price": _places(line.unit_price, 6, f"the price of {what}"),
        "amount": _places(line.amount, 4, f"the amount of {what}"),
        "billable_option": line.billable_option,
        "taxable": line.taxable,
        "tax_code_cw_id": line.tax_code_id,
        "item": line.item[:100],
        "day": line.day,
    }


def payment_fields(payment: cw.Payment, currency: str) -> dict[str, Any]:
    try:
        amount = to_minor(payment.amount, currency)
    except InexactAmountError as exc:
        raise RecordRefused(
            f"ConnectWise payment {payment.id}: {payment.amount} is finer than {currency} allows"
        ) from exc
    return {
        "cw_updated_at": payment.updated_at,
        "raw": {},
        "type": payment.type,
        "currency": currency,
        "amount_minor": amount,
        "paid_on": payment.paid_on,
        "source": payment.source,
        "credit_invoice_cw_id": payment.credit_invoice_id,
        "applied_by": payment.applied_by,
    }


# --- storing --------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    by_model: dict[str, list[int]] = field(default_factory=dict)

    def add(self, model: type[models.Model], created: int, updated: int, unchanged: int) -> None:
        self.created += created
        self.updated += updated
        self.unchanged += unchanged
        row = self.by_model.setdefault(model.__name__, [0, 0, 0])
        row[0], row[1], row[2] = row[0] + created, row[1] + updated, row[2] + unchanged

    def as_detail(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "by_model": {k: dict(zip(("created", "updated", "unchanged"), v, strict=True))
                         for k, v in self.by_model.items()},
        }  # fmt: skip


def upsert(
    model: type[Any],
    connection: ConnectWiseConnection,
    rows: dict[int, dict[str, Any]],
    counts: Counts,
    **fixed: Any,
) -> dict[int, int]:
    """Store `rows` (ConnectWise id → fields) of `model`, writing only what changed;
    returns ConnectWise id → primary key of every row given."""
    if not rows:
        return {}
    stored = {
        cw_id: (pk, fingerprint)
        for cw_id, pk, fingerprint in model.objects.filter(
            connection=connection, cw_id__in=list(rows)
        ).values_list("cw_id", "pk", "fingerprint")
    }
    now = timezone.now()
    new, changed = [], []
    for cw_id, values in rows.items():
        values = {**values, **fixed}
        fingerprint = _fingerprint(values)
        if cw_id not in stored:
            new.append(model(connection=connection, cw_id=cw_id, fingerprint=fingerprint,
                             synced_at=now, **values))  # fmt: skip
        elif stored[cw_id][1] != fingerprint:
            changed.append(model(pk=stored[cw_id][0], connection=connection, cw_id=cw_id,
                                 fingerprint=fingerprint, synced_at=now, **values))  # fmt: skip
    model.objects.bulk_create(new)
    if changed:
        names = ["fingerprint", "synced_at", *next(iter(rows.values())).keys(), *fixed]
        model.objects.bulk_update(changed, names)
    counts.add(model, len(new), len(changed), len(rows) - len(new) - len(changed))
    return dict(
        model.objects.filter(connection=connection, cw_id__in=list(rows)).values_list("cw_id", "pk")
    )


def setup_store(connection: ConnectWiseConnection, client: cw.ConnectWiseClient, counts: Counts
                ) -> None:  # fmt: skip
    """Tax codes, billing terms and currencies: a few rows each, read whole."""
    tax_codes = {
        t.id: {
            "cw_updated_at": t.updated_at, "raw": dict(t.raw), "identifier": t.identifier,
            "description": t.description[:100], "rate": _places(t.rate, 6, f"tax code {t.id}"),
            "services": t.services, "expenses": t.expenses, "products": t.products,
            "cancelled_on": t.cancelled,
        }
        for t in client.tax_codes()
    }  # fmt: skip
    terms = {
        t.id: {"cw_updated_at": t.updated_at, "raw": dict(t.raw), "name": t.name,
               "due_days": t.due_days, "default": t.default}
        for t in client.billing_terms()
    }  # fmt: skip
    currencies = {
        c.id: {"cw_updated_at": c.updated_at, "raw": dict(c.raw), "identifier": c.identifier,
               "code": _currency(c.code, f"ConnectWise currency {c.id}"), "name": c.name,
               "decimals": c.decimals}
        for c in client.currencies()
    }  # fmt: skip
    with transaction.atomic():
        upsert(TaxCode, connection, tax_codes, counts)
        upsert(BillingTerm, connection, terms, counts)
        upsert(Currency, connection, currencies, counts)


def _company_fields(company: cw.Company) -> dict[str, Any]:
    return {
        "cw_updated_at": company.updated_at,
        "raw": dict(company.raw),
        "identifier": company.identifier,
        "name": company.name[:100],
        "status": company.status,
        "currency": company.currency,
        "billing_terms_cw_id": company.billing_terms_id,
        "tax_code_cw_id": company.tax_code_id,
        "deleted": company.deleted,
    }


def _cursor(connection: ConnectWiseConnection, stream: str) -> SyncCursor:
    cursor, _ = SyncCursor.objects.get_or_create(connection=connection, stream=stream)
    return cursor


def _overlapped(since: datetime | None) -> datetime | None:
    overlap = timedelta(seconds=settings.CONNECTWISE_SYNC_OVERLAP_SECONDS)
    return None if since is None else since - overlap


def companies_store(connection: ConnectWiseConnection, client: cw.ConnectWiseClient,
                    counts: Counts, *, full: bool) -> None:  # fmt: skip
    cursor = _cursor(connection, SyncCursor.Stream.COMPANIES)
    companies = client.companies(since=None if full else _overlapped(cursor.since))
    with transaction.atomic():
        upsert(Company, connection, {c.id: _company_fields(c) for c in companies}, counts)
        newest = max((c.updated_at for c in companies), default=cursor.since)
        cursor.since = max(filter(None, (cursor.since, newest)), default=None)
        cursor.save(update_fields=["since", "updated_at"])


def _needs_payments(invoice: cw.Invoice, stored_with_payments: set[int]) -> bool:
    return bool(invoice.payments or invoice.credits) or invoice.id in stored_with_payments


@dataclass(frozen=True)
class InvoiceBatch:
    """A batch of invoices read and normalised, ready to store without another call."""

    fields: dict[int, dict[str, Any]]  # ConnectWise id → invoice fields
    lines: dict[int, list[dict[str, Any]]]  # of the invoices whose header changed
    payments: dict[int, dict[int, dict[str, Any]]]  # invoice id → payment id → fields


def invoices_read(
    connection: ConnectWiseConnection, client: cw.ConnectWiseClient,
    invoices: Sequence[cw.Invoice],
) -> InvoiceBatch:  # fmt: skip
    """Normalise a batch; read the lines and payments of the invoices whose header
    differs from the stored one (payments only where there can be any)."""
    fields = {invoice.id: invoice_fields(invoice) for invoice in invoices}
    stored = dict(
        Invoice.objects.filter(connection=connection, cw_id__in=list(fields)).values_list(
            "cw_id", "fingerprint"
        )
    )
    changed = [i for i in invoices if stored.get(i.id) != _fingerprint(fields[i.id])]
    with_payments = set(
        InvoicePayment.objects.filter(
            connection=connection, invoice__cw_id__in=[i.id for i in changed]
        ).values_list("invoice__cw_id", flat=True)
    )
    lines = client.invoice_lines(changed) if changed else {}
    return InvoiceBatch(
        fields=fields,
        lines={
            i.id: [line_fields(line, n) for n, line in enumerate(lines.get(i.id, []))]
            for i in changed
        },
        payments={
            i.id: {p.id: payment_fields(p, fields[i.id]["currency"]) for p in client.payments(i.id)}
            for i in changed
            if _needs_payments(i, with_payments)
        },
    )


def invoices_write(connection: ConnectWiseConnection, batch: InvoiceBatch, counts: Counts
                   ) -> None:  # fmt: skip
    with transaction.atomic():
        pks = upsert(Invoice, connection, batch.fields, counts)
        for invoice_id, rows in batch.lines.items():
            _lines_replace(pks[invoice_id], rows, counts)
        for invoice_id, payments in batch.payments.items():
            upsert(InvoicePayment, connection, payments, counts, invoice_id=pks[invoice_id])
            removed, _ = (
                InvoicePayment.objects.filter(invoice_id=pks[invoice_id])
                .exclude(cw_id__in=list(payments))
                .delete()
            )  # removed in ConnectWise
            counts.deleted += removed


def _lines_replace(invoice_pk: int, rows: list[dict[str, Any]], counts: Counts) -> None:
    fingerprint = _fingerprint({"lines": rows})
    updated = (
        Invoice.objects.filter(pk=invoice_pk)
        .exclude(lines_fingerprint=fingerprint)
        .update(lines_fingerprint=fingerprint)
    )
    if not updated:
        counts.add(InvoiceLine, 0, 0, len(rows))
        return
    InvoiceLine.objects.filter(invoice_id=invoice_pk).delete()
    InvoiceLine.objects.bulk_create(InvoiceLine(invoice_id=invoice_pk, **row) for row in rows)
    counts.add(InvoiceLine, len(rows), 0, 0)


# --- the sync of a connection ----------------------------------------------------------------


def _batches(items: Sequence[cw.Invoice], size: int) -> Iterable[Sequence[cw.Invoice]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def invoices_pass(
    connection: ConnectWiseConnection,
    client: cw.ConnectWiseClient,
    counts: Counts,
    *,
    full: bool,
    owner: str,
    run: SyncRun,
    after_batch: Callable[[int], None] | None = None,
) -> None:
    """One pass over the invoices changed since the cursor, resumed if one was cut short."""
    cursor = _cursor(connection, SyncCursor.Stream.INVOICES)
    if not cursor.pass_started or (full and cursor.pass_since is not None):
        cursor.pass_since = None if full else _overlapped(cursor.since)
        cursor.pass_started, cursor.after_id, cursor.pass_max = True, 0, None
        cursor.save()
    elif cursor.after_id:
        run.detail = {**run.detail, "resumed_after": cursor.after_id}
    whole = cursor.pass_since is None and not cursor.after_id  # every invoice ConnectWise has
    invoices = client.invoices(since=cursor.pass_since, after_id=cursor.after_id)
    run.progress_total = len(invoices)
    run.save(update_fields=["progress_total", "detail"])
    for number, batch in enumerate(_batches(invoices, BATCH), start=1):
        lease_renew(connection, owner)
        read = invoices_read(connection, client, batch)
        with transaction.atomic():
            invoices_write(connection, read, counts)
            newest = max(i.updated_at for i in batch)
            cursor.after_id = batch[-1].id
            cursor.pass_max = max(filter(None, (cursor.pass_max, newest)))
            cursor.save(update_fields=["after_id", "pass_max", "updated_at"])
        SyncRun.objects.filter(pk=run.pk).update(progress_done=F("progress_done") + len(batch))
        if after_batch is not None:
            after_batch(number)
    with transaction.atomic():
        if whole:
            counts.deleted += _deleted_mark(connection, {i.id for i in invoices})
        cursor.since = max(filter(None, (cursor.since, cursor.pass_max)), default=None)
        cursor.pass_started, cursor.pass_since, cursor.after_id, cursor.pass_max = (
            False, None, 0, None,
        )  # fmt: skip
        cursor.save()


def _deleted_mark(connection: ConnectWiseConnection, seen: set[int]) -> int:
    """After a pass that listed every invoice: those stored but no longer listed were
    deleted in ConnectWise (a callback may have been missed). The lease keeps a refresh
    from storing a new invoice meanwhile."""
    live = Invoice.objects.filter(connection=connection, deleted_at__isnull=True)
    gone = sorted(set(live.values_list("cw_id", flat=True)) - seen)
    now = timezone.now()
    for start in range(0, len(gone), 500):
        live.filter(cw_id__in=gone[start : start + 500]).update(deleted_at=now)
    return len(gone)


def connection_sync(
    *,
    connection: ConnectWiseConnection,
    run: SyncRun | None = None,
    client: cw.ConnectWiseClient | None = None,
    full: bool = False,
    after_batch: Callable[[int], None] | None = None,
) -> SyncRun:
    """Sync one connection (see the module); the run ends SUCCEEDED, SKIPPED (another
    sync holds the connection) or FAILED (`detail["transient"]`: worth retrying)."""
    run = sync_run_start(run, kind=RUN_KIND, label=str(connection))
    run.detail = {**run.detail, "connection": connection.pk, "full": full}
    run.save(update_fields=["detail"])
    owner = lease_owner_for(run.pk)
    if not lease_take(connection, owner):
        return sync_run_finish(run, status=SyncRun.Status.SKIPPED,
                               error="Another sync of this connection is running.")  # fmt: skip
    own_client = client is None
    client = client or connectwise_client_for(connection)
    counts = Counts()
    calls_before = client.calls
    try:
        setup_store(connection, client, counts)
        companies_store(connection, client, counts, full=full)
        invoices_pass(connection, client, counts, full=full, owner=owner, run=run,
                      after_batch=after_batch)  # fmt: skip
    except (cw.ConnectWiseError, RecordRefused, LeaseLost) as exc:
        logger.warning("ConnectWise sync of %s failed: %s", connection, exc)
        return sync_run_finish(
            run, status=SyncRun.Status.FAILED, error=str(exc),
            transient=isinstance(exc, TRANSIENT_ERRORS),
            retry_after=getattr(exc, "retry_after", None),
            **counts.as_detail(), calls=client.calls - calls_before,
        )  # fmt: skip
    finally:
        lease_release(connection, owner)
        if own_client:
            client.close()
    return sync_run_finish(run, status=SyncRun.Status.SUCCEEDED, **counts.as_detail(),
                           calls=client.calls - calls_before)  # fmt: skip


def invoice_refresh(
    *, connection: ConnectWiseConnection, cw_id: int, client: cw.ConnectWiseClient | None = None
) -> str:
    """Read one invoice again (a callback announced it): 'stored', or 'deleted' when
    ConnectWise no longer has it. Raises LeaseBusy while a sync holds the connection."""
    owner = lease_owner_for(f"refresh-{cw_id}")
    if not lease_take(connection, owner):
        raise LeaseBusy(f"a sync of {connection} is running")
    own_client = client is None
    client = client or connectwise_client_for(connection)
    try:
        try:
            invoice = client.invoice(cw_id)
        except cw.NotFound:
            Invoice.objects.filter(connection=connection, cw_id=cw_id, deleted_at=None).update(
                deleted_at=timezone.now()
            )
            return "deleted"
        invoices_write(connection, invoices_read(connection, client, [invoice]), Counts())
        return "stored"
    finally:
        lease_release(connection, owner)
        if own_client:
            client.close()
