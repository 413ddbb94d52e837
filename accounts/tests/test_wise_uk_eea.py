"""A UK/EEA profile on a personal token: Wise refuses its statements (PSD2), so they come
from files; Bulwark says so, keeps syncing the balances and proves them against the
imported lines (the simulator refuses as Wise does: a bare 403, no SCA challenge)."""

from datetime import timedelta

import pytest

from accounts.models import BalanceGap, BalanceSnapshot, CashAccount, StatementCursor, SyncRun
from accounts.statements.services import statement_import
from accounts.wise.sync import wise_connection_sync
from simulators.wise.generator import PROFILE_BUSINESS

pytestmark = pytest.mark.django_db


def test_statements_come_from_files_and_the_balance_is_still_proved(
    wise_sim, wise_connection, owner_client
):
    wise_sim.uk_eea_profile(PROFILE_BUSINESS)
    first = wise_connection_sync(connection=wise_connection)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    eur = CashAccount.objects.get(currency="EUR", kind="STANDARD")
    assert BalanceSnapshot.objects.filter(account=eur).exists()  # balances still sync
    statement_requests = wise_sim.requests_to("GET", r"/statement\.json$")
    assert statement_requests
    assert {r.status for r in statement_requests} == {403}
    run = eur.statement_cursor.last_run
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.detail["statements"] == "FILES"
    assert "UK and EEA" in run.detail["notice"]
    # No lines yet: the proof fails, and says what the owner can do about it (a sync
    # cannot fetch these lines again).
    assert eur.statement_cursor.proof_status == StatementCursor.Proof.MISMATCH
    [gap] = BalanceGap.objects.filter(account=eur, resolved_at__isnull=True)
    assert "import a statement file of the lines from" in gap.reason
    assert "next sync" not in gap.reason
    before = owner_client.get("/accounts/").content.decode()
    assert "import the statement that covers it" in before
    assert "re-fetched on the next sync" not in before

    # The owner downloads the balance's statement from Wise's website and imports it.
    data = wise_sim.statement_file(
        eur.wise_balance_id, wise_sim.since - timedelta(days=1), wise_sim.until, "csv"
    )
    assert statement_import(account=eur, data=data, filename="eur.csv").created > 0
    wise_connection_sync(connection=wise_connection)
    eur.statement_cursor.refresh_from_db()
    assert eur.statement_cursor.proof_status == StatementCursor.Proof.OK

    page = owner_client.get("/accounts/").content.decode()
    assert "Statements from files" in page
    assert 'href="/accounts/import/"' in page
