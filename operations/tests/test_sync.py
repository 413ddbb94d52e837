"""The ConnectWise sync against the simulator, over real HTTP: full, incremental,
idempotent, under faults and after a kill."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import SyncRun
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
from operations.sync import connection_sync
from treasury.processes import host_id
from treasury.tests.workers import pid_gone


def _mirror(connection):
    """Everything stored, as comparable tuples."""
    return {
        "invoices": sorted(
            Invoice.objects.filter(connection=connection).values_list(
                "cw_id",
                "number",
                "type",
                "status",
                "currency",
                "total_minor",
                "balance_minor",
                "payments_minor",
                "credits_minor",
                "sales_tax_minor",
                "cw_updated_at",
                "deleted_at",
            )
        ),
        "lines": sorted(
            InvoiceLine.objects.filter(invoice__connection=connection).values_list(
                "invoice__cw_id", "kind", "source_id", "quantity", "unit_price", "amount"
            )
        ),
        "payments": sorted(
            InvoicePayment.objects.filter(connection=connection).values_list(
                "cw_id", "invoice__cw_id", "type", "amount_minor", "credit_invoice_cw_id"
            )
        ),
        "companies": Company.objects.filter(connection=connection).count(),
    }


def _minor(amount):
    return int(amount * 100)  # the simulator's currencies all have cents


def _expected(sim):
    """The simulator's own records, in the mirror's terms."""
    psa = sim.psa
    lines = []
    for invoice_id in psa.invoices:
        for kind, line in psa.lines_of(invoice_id):
            amount = {"time": "extendedInvoiceAmount", "expense": "invoiceAmount",
                      "product": "extPrice"}[kind]  # fmt: skip
            lines.append((invoice_id, kind, line["id"], line.get(amount) or Decimal(0)))
        invoice = psa.invoices[invoice_id]
        if invoice["agreementAmount"]:
            lines.append((invoice_id, "agreement", invoice["agreement"]["id"],
                          invoice["agreementAmount"]))  # fmt: skip
    return {
        "invoices": sorted(
            (i["id"], _minor(i["total"]), _minor(i["balance"]), i["currency"]["currencyCode"])
            for i in psa.invoices.values()
        ),
        "lines": sorted(lines),
        "payments": sorted(
            (p["id"], p["invoice"]["id"], p["type"], _minor(p["amount"]))
            for p in psa.payments.values()
        ),
    }


def _assert_exact(connection, sim):
    mirror, expected = _mirror(connection), _expected(sim)
    assert [(i[0], i[5], i[6], i[4]) for i in mirror["invoices"]] == expected["invoices"]
    assert [(x[0], x[1], x[2], x[5]) for x in mirror["lines"]] == expected["lines"]
    assert [p[:4] for p in mirror["payments"]] == expected["payments"]
    assert mirror["companies"] == len(sim.psa.companies)


def test_a_full_sync_mirrors_the_year_exactly(connection, connectwise_sim, client_for):
    run = connection_sync(connection=connection, client=client_for(connection))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    _assert_exact(connection, connectwise_sim)
    assert TaxCode.objects.count() == len(connectwise_sim.psa.tax_codes)
    assert BillingTerm.objects.count() == len(connectwise_sim.psa.billing_terms)
    assert set(Currency.objects.values_list("code", flat=True)) == {"USD", "EUR", "GBP"}
    # Decimal from the JSON text: a tax rate of 8.875 % arrives with every digit.
    assert TaxCode.objects.get(identifier="NYC").rate == Decimal("8.875")
    memo = Invoice.objects.filter(type=Invoice.CREDIT_MEMO).first()
    assert memo is not None
    assert memo.total < 0
    assert InvoicePayment.objects.filter(type="Credit").exists()
    cursor = SyncCursor.objects.get(connection=connection, stream="invoices")
    newest = max(i["_info"]["lastUpdated"] for i in connectwise_sim.psa.invoices.values())
    assert cursor.since.strftime("%Y-%m-%dT%H:%M:%SZ") == newest
    assert (cursor.pass_started, cursor.after_id) == (False, 0)


def test_a_second_sync_changes_nothing(connection, connectwise_sim, client_for):
    connection_sync(connection=connection, client=client_for(connection))
    before = _mirror(connection)
    synced = dict(Invoice.objects.values_list("cw_id", "synced_at"))
    calls = len(connectwise_sim.requests)
    again = connection_sync(connection=connection, client=client_for(connection))
    assert again.status == SyncRun.Status.SUCCEEDED
    assert (again.detail["created"], again.detail["updated"], again.detail["deleted"]) == (0, 0, 0)
    assert _mirror(connection) == before
    assert dict(Invoice.objects.values_list("cw_id", "synced_at")) == synced
    # Incremental: setup tables, companies, one page of invoices; no lines, no payments.
    paths = [r.path for r in connectwise_sim.requests[calls:]]
    assert not [p for p in paths if "/payments" in p or "/entries" in p or "/products" in p]
    assert len(paths) == 5
    full = connection_sync(connection=connection, client=client_for(connection), full=True)
    assert (full.detail["created"], full.detail["updated"]) == (0, 0)
    assert _mirror(connection) == before


def test_an_amended_invoice_is_read_again_with_its_lines(connection, connectwise_sim, client_for):
    connection_sync(connection=connection, client=client_for(connection))
    invoice = next(i for i in connectwise_sim.psa.invoices.values() if i["status"]["name"] == "New")
    connectwise_sim.advance(5)
    connectwise_sim.invoice_amend(
        invoice["id"],
        add_lines=[{"description": "Extra switch", "quantity": 2, "price": "150.25"}],
        reference="PO-77",
    )
    run = connection_sync(connection=connection, client=client_for(connection))
    assert run.detail["by_model"]["Invoice"]["updated"] == 1
    stored = Invoice.objects.get(cw_id=invoice["id"])
    assert (stored.reference, stored.total) == (
        "PO-77",
        connectwise_sim.psa.invoices[invoice["id"]]["total"],
    )
    [added] = stored.lines.filter(description="Extra switch")
    assert (added.quantity, added.unit_price, added.amount) == (
        2,
        Decimal("150.25"),
        Decimal("300.50"),
    )
    _assert_exact(connection, connectwise_sim)


def test_with_30_percent_faults_the_sync_ends_exact(connection, connectwise_sim, client_for):
    connectwise_sim.set_faults(error_rate=0.15, cut_rate=0.1, malformed_rate=0.05)
    runs = []
    for _ in range(10):  # what the task's retries do
        runs.append(connection_sync(connection=connection, client=client_for(connection)))
        if runs[-1].status == SyncRun.Status.SUCCEEDED:
            break
    assert runs[-1].status == SyncRun.Status.SUCCEEDED
    assert all(r.detail.get("transient") for r in runs[:-1])
    faults = [r for r in connectwise_sim.requests if r.fault]
    assert len(faults) > 50
    connectwise_sim.set_faults()
    _assert_exact(connection, connectwise_sim)
    again = connection_sync(connection=connection, client=client_for(connection))
    assert (again.detail["created"], again.detail["updated"]) == (0, 0)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no except clause catches it."""


def test_a_sync_killed_mid_way_resumes_after_the_last_batch_stored(
    connection, connectwise_sim, client_for
):
    def kill(batch):
        if batch == 2:
            raise Killed

    with pytest.raises(Killed):
        connection_sync(connection=connection, client=client_for(connection), after_batch=kill)
    cursor = SyncCursor.objects.get(connection=connection, stream="invoices")
    stored = sorted(connectwise_sim.psa.invoices)[:100]
    assert cursor.pass_started
    assert cursor.after_id == stored[-1]
    assert sorted(Invoice.objects.values_list("cw_id", flat=True)) == stored
    # SIGKILL runs no `finally`: the lease and the run stay as a dead process left them.
    killed = SyncRun.objects.get(kind="CONNECTWISE")
    assert killed.status == SyncRun.Status.RUNNING
    dead = f"{host_id()}:{pid_gone()}:0a1b2c3d"  # a process of this host, gone
    SyncRun.objects.filter(pk=killed.pk).update(detail={**killed.detail, "process": dead})
    ConnectWiseConnection.objects.filter(pk=connection.pk).update(
        lease_owner=f"{dead}:{killed.pk}:0badf00d", lease_until=timezone.now() + timedelta(hours=1)
    )
    calls = len(connectwise_sim.requests)
    run = connection_sync(connection=connection, client=client_for(connection))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.detail["resumed_after"] == stored[-1]
    lines_read = [r for r in connectwise_sim.requests[calls:] if "/time/entries" in r.path]
    assert len(lines_read) == -(-(len(connectwise_sim.psa.invoices) - 100) // 50)
    _assert_exact(connection, connectwise_sim)
    killed.refresh_from_db()
    assert (killed.status, killed.detail.get("interrupted")) == (SyncRun.Status.FAILED, True)


def test_a_full_sync_marks_an_invoice_deleted_without_its_callback(
    connection, connectwise_sim, client_for
):
    connection_sync(connection=connection, client=client_for(connection))
    gone = next(
        i["id"] for i in connectwise_sim.psa.invoices.values() if i["status"]["name"] == "New"
    )
    connectwise_sim.invoice_delete(gone)
    incremental = connection_sync(connection=connection, client=client_for(connection))
    assert incremental.detail["deleted"] == 0  # an incremental read cannot see a deletion
    full = connection_sync(connection=connection, client=client_for(connection), full=True)
    assert full.detail["deleted"] == 1
    assert list(Invoice.objects.exclude(deleted_at=None).values_list("cw_id", flat=True)) == [gone]
    again = connection_sync(connection=connection, client=client_for(connection), full=True)
    assert again.detail["deleted"] == 0
