"""The work side's tasks and crash recovery: one sync per connection at a time, the runs
sweep re-queuing a killed sync, retries, a deleted invoice, the beat poll."""

from unittest import mock

import pytest
from celery.exceptions import Retry

from accounts.models import SyncRun
from accounts.runs import runs_sweep
from operations.models import ConnectWiseConnection, Invoice, InvoiceRefresh, SyncCursor
from operations.services import invoice_refresh_request
from operations.sync import RUN_KIND, connection_sync, lease_owner_for, lease_take
from operations.tasks import connectwise_invoice_refresh, connectwise_poll, connectwise_sync
from operations.tests.test_sync import Killed, _assert_exact
from treasury.processes import host_id
from treasury.tests.workers import pid_gone


def test_a_second_sync_of_the_same_connection_is_skipped(connection, connectwise_sim, client_for):
    assert lease_take(connection, lease_owner_for(0))  # a live sync holds it
    calls = len(connectwise_sim.requests)
    run = connection_sync(connection=connection, client=client_for(connection))
    assert run.status == SyncRun.Status.SKIPPED
    assert len(connectwise_sim.requests) == calls
    assert not Invoice.objects.exists()


def test_the_sweep_requeues_a_killed_sync_and_the_task_finishes_it(
    connection, connectwise_sim, client_for, django_capture_on_commit_callbacks
):
    def kill(batch):
        if batch == 3:
            raise Killed

    with pytest.raises(Killed):
        connection_sync(connection=connection, client=client_for(connection), after_batch=kill)
    killed = SyncRun.objects.get(kind=RUN_KIND)
    dead = f"{host_id()}:{pid_gone()}:0a1b2c3d"  # a process of this host, gone
    SyncRun.objects.filter(pk=killed.pk).update(detail={**killed.detail, "process": dead})
    ConnectWiseConnection.objects.filter(pk=connection.pk).update(
        lease_owner=f"{dead}:{killed.pk}:0badf00d"
    )
    with (
        mock.patch.object(connectwise_sync, "delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        [(old, again)] = runs_sweep()
    assert old.pk == killed.pk
    assert again.status == SyncRun.Status.QUEUED
    queued.assert_called_once_with(connection.pk, again.pk, False)
    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.FAILED
    assert killed.detail["requeued_as"] == again.pk
    outcome = connectwise_sync.run(connection.pk, again.pk, False)
    assert outcome["status"] == SyncRun.Status.SUCCEEDED
    again.refresh_from_db()
    assert again.detail["resumed_after"] == sorted(connectwise_sim.psa.invoices)[149]
    _assert_exact(connection, connectwise_sim)
    assert connectwise_sync.run(connection.pk, again.pk, False) is None  # a redelivery


def test_a_transient_failure_is_retried_with_a_new_run(connection):
    failed = SyncRun(kind=RUN_KIND, status=SyncRun.Status.FAILED, detail={"transient": True})
    with (
        mock.patch("operations.tasks.connection_sync", return_value=failed),
        mock.patch.object(connectwise_sync, "retry", side_effect=Retry) as retry,
        pytest.raises(Retry),
    ):
        connectwise_sync.run(connection.pk, None, False)
    assert retry.call_args.kwargs["args"] == [connection.pk, None, False]
    assert retry.call_args.kwargs["countdown"] == 30


def test_a_deleted_invoice_is_marked_deleted_by_its_refresh(
    connection, connectwise_sim, client_for, django_capture_on_commit_callbacks
):
    connection_sync(connection=connection, client=client_for(connection))
    invoice_id = next(
        i["id"] for i in connectwise_sim.psa.invoices.values() if i["status"]["name"] == "New"
    )
    connectwise_sim.invoice_delete(invoice_id)
    with mock.patch.object(connectwise_invoice_refresh, "apply_async"):
        assert (
            invoice_refresh_request(connection=connection, cw_id=invoice_id, action="deleted")
            == "queued"
        )
    assert connectwise_invoice_refresh.run(connection.pk, invoice_id) == "deleted"
    assert Invoice.objects.get(cw_id=invoice_id).deleted_at is not None
    assert not InvoiceRefresh.objects.exists()


def test_a_refresh_waits_while_a_sync_holds_the_connection(connection, connectwise_sim):
    InvoiceRefresh.objects.create(connection=connection, cw_id=1001)
    assert lease_take(connection, lease_owner_for(0))
    with (
        mock.patch.object(connectwise_invoice_refresh, "retry", side_effect=Retry) as retry,
        pytest.raises(Retry),
    ):
        connectwise_invoice_refresh.run(connection.pk, 1001)
    assert retry.call_args.kwargs["countdown"] == 30
    assert InvoiceRefresh.objects.filter(cw_id=1001).exists()  # kept for the retry


def test_the_poll_queues_one_incremental_sync_per_connection(
    connection, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(connectwise_sync, "delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert connectwise_poll.run() == 1
    queued.assert_called_once()
    run = SyncRun.objects.get(pk=queued.call_args.args[1])
    assert (run.status, run.detail["full"]) == (SyncRun.Status.QUEUED, False)
    assert not SyncCursor.objects.exists()  # nothing read until the worker runs it
