"""One retry rule of the client, in isolation (respx): reads are retried after a 5xx,
writes are not (their outcome is unknown, so the caller looks them up instead)."""

import httpx
import pytest
import respx

from ledger.xero.client import OutcomeUnknown, XeroClient
from ledger.xero.limits import Budget, ConcurrencySlots

BASE = "https://xero.invalid"


class _Tokens:
    def access_token(self) -> str:
        return "token"

    def refreshed(self, failed_token: str) -> str:
        return "token2"


@pytest.fixture
def client(tmp_path):
    with XeroClient(
        tokens=_Tokens(),
        tenant_id="t1",
        base_url=BASE,
        timeout=2,
        slots=ConcurrencySlots(tmp_path, "t1", 5),
        budget=Budget(day_reserve=0),
        sleep=lambda seconds: None,
    ) as api:
        yield api


@respx.mock
def test_a_read_is_retried_after_a_server_error(client):
    route = respx.get(f"{BASE}/api.xro/2.0/Currencies").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(200, json={"Currencies": [{"Code": "USD"}]}),
        ]
    )
    assert client.currencies() == ["USD"]
    assert route.call_count == 2


@respx.mock
def test_a_write_answered_with_a_server_error_is_not_sent_again(client):
    route = respx.put(f"{BASE}/api.xro/2.0/BankTransactions").mock(return_value=httpx.Response(500))
    with pytest.raises(OutcomeUnknown):
        client.bank_transactions_write([{"Type": "SPEND"}], idempotency_key="k", update=False)
    assert route.call_count == 1
