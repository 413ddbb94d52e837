"""The Wise sync's lease held by a process of another host: its pid is never judged here
(not even when that host has this one's name, as two containers may), so the lease is
taken over only once it has expired, and then the run it guarded is marked interrupted."""

import socket
from datetime import UTC, datetime, timedelta

from accounts.models import CashAccount, StatementCursor, SyncRun
from accounts.wise.sync import wise_account_sync, wise_balances_sync
from treasury.tests.workers import pid_gone


def test_a_lease_of_a_container_with_this_hosts_name_waits_for_its_expiry(
    wise_sim, wise_connection
):
    wise_balances_sync(connection=wise_connection)
    account = CashAccount.objects.get(wise_balance_id=70002)
    gone = pid_gone()  # a pid that runs nothing here: taken at once were it of this host
    holder = SyncRun.objects.create(
        kind=SyncRun.Kind.WISE_STATEMENTS, account=account, status=SyncRun.Status.RUNNING
    )
    cursor = StatementCursor.objects.create(
        account=account,
        lock_owner=f"{socket.gethostname()}~00000000.1:{gone}:0a1b2c3d:{holder.pk}:abc",
        locked_until=datetime.now(UTC) + timedelta(minutes=5),
    )
    assert wise_account_sync(account=account).status == SyncRun.Status.SKIPPED
    holder.refresh_from_db()
    assert holder.status == SyncRun.Status.RUNNING

    StatementCursor.objects.filter(pk=cursor.pk).update(
        locked_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert wise_account_sync(account=account).status == SyncRun.Status.SUCCEEDED
    holder.refresh_from_db()
    assert holder.status == SyncRun.Status.FAILED
    assert holder.error.startswith("Interrupted")
