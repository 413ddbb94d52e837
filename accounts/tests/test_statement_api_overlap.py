"""A statement file overlapping an API sync adds nothing twice: the Wise simulator serves
the same statement as JSON (synced) and as CSV, CAMT.053 and MT940 (imported)."""

from datetime import UTC, datetime

import httpx
import pytest

from accounts.models import CashAccount, Transaction
from accounts.selectors import trail_verify
from accounts.statements.services import statement_import
from accounts.wise.sync import wise_connection_sync
from simulators.wise.server import SIM_TOKEN


def _statement_file(sim, account: CashAccount, extension: str) -> bytes:
    response = httpx.get(
        f"{sim.url}/v1/profiles/{account.wise_profile_id}/balance-statements/"
        f"{account.wise_balance_id}/statement.{extension}",
        params={
            "currency": account.currency,
            "intervalStart": "2026-01-01T00:00:00.000Z",
            "intervalEnd": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "type": "COMPACT",
        },
        headers={"Authorization": f"Bearer {SIM_TOKEN}"},
    )
    response.raise_for_status()
    return response.content


@pytest.mark.parametrize("extension", ["csv", "xml", "mt940"])
def test_a_file_overlapping_the_api_sync_adds_nothing(wise_connection, wise_sim, extension):
    wise_connection_sync(connection=wise_connection)
    account = CashAccount.objects.filter(currency="EUR", kind="STANDARD").get()
    stored = Transaction.objects.filter(account=account).count()
    assert stored > 0
    data = _statement_file(wise_sim, account, extension)
    result = statement_import(account=account, data=data, filename=f"eur.{extension}")
    assert result.lines > 0
    assert (result.created, result.skipped) == (0, result.lines)
    assert Transaction.objects.filter(account=account).count() == stored
    assert trail_verify(account_ids=[account.pk]) == {account.pk: None}
