"""Snapshots: a simulator stopped (or killed) and loaded again answers as it did."""

from decimal import Decimal

import httpx

from simulators.demo import demo_load, snapshot_path
from simulators.ecb.server import EcbSimulator
from simulators.persist import snapshot_load
from simulators.wise.server import SIM_TOKEN, WiseSimulator
from simulators.xero import seed
from simulators.xero.server import XeroSimulator
from simulators.xero.tests.test_server import API, _api, _tokens


def _bank_transaction(sim):
    account = next(a for a in sim.org().accounts.values() if a.get("Type") == "BANK")
    return {
        "Type": "RECEIVE",
        "BankAccount": {"AccountID": account["AccountID"]},
        "Contact": {"Name": "Kestrel Labs"},
        "Date": "2026-01-15",
        "Reference": "bulwark:t1",
        "LineAmountTypes": "NoTax",
        "LineItems": [{"Description": "Fee", "Quantity": 1, "UnitAmount": 125.50,
                       "AccountCode": "200"}],
    }  # fmt: skip


def test_xero_state_and_tokens_survive_a_restart(tmp_path):
    path = tmp_path / "xero.pickle"
    first = XeroSimulator(seed_value=3, auto_consent=True).start().persist_to(path)
    tokens = _tokens(first)
    with _api(first, tokens) as api:
        put = api.put("/BankTransactions", json={"BankTransactions": [_bank_transaction(first)]})
    assert put.status_code == 200, put.text
    # Killed, not stopped: the snapshot written after the PUT is what comes back.
    first._server.shutdown()
    first._server.server_close()

    second = snapshot_load(path)
    assert isinstance(second, XeroSimulator)
    with second:
        assert second.tenant_ids == first.tenant_ids
        with _api(second, tokens) as api:
            listed = api.get("/BankTransactions", params={"where": 'Reference=="bulwark:t1"'})
        assert listed.status_code == 200
        [element] = listed.json()["BankTransactions"]
        assert Decimal(str(element["Total"])) == Decimal("125.50")
        refreshed = httpx.post(
            f"{second.url}/connect/token",
            auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 200, refreshed.text
        assert second.requests_to("PUT", f"{API}/BankTransactions") == []  # a fresh log


def test_wise_lines_keys_and_webhook_key_survive_a_restart(tmp_path):
    path = tmp_path / "wise.pickle"
    with WiseSimulator(seed=5, size=60).persist_to(path) as first:
        balance = first.balances_of()[0]
        added = httpx.post(
            f"{first.url}/_sim/transactions",
            json={"balance_id": balance.id, "amount": "42.00", "description": "Late payment"},
        )
        assert added.status_code == 201
        lines = first.line_count
        public_pem = first.webhook_public_key_pem
        _body, headers = first.webhook_request({"event_type": "balances#update"})

    second = snapshot_load(path)
    assert isinstance(second, WiseSimulator)
    with second:
        assert second.line_count == lines
        assert second.webhook_public_key_pem == public_pem
        assert (
            second.webhook_request({"event_type": "balances#update"})[1]["X-Signature-SHA256"]
            == headers["X-Signature-SHA256"]
        )  # same key, deterministic PKCS#1 v1.5 signature
        reply = httpx.get(
            f"{second.url}/v4/profiles/{balance.profile_id}/balances",
            params={"types": "STANDARD"},
            headers={"Authorization": f"Bearer {SIM_TOKEN}"},
        )
        assert reply.status_code == 200
        amounts = {b["id"]: Decimal(str(b["amount"]["value"])) for b in reply.json()}
        assert amounts[balance.id] == balance.amount


def test_a_missing_snapshot_is_none_and_daily_publishers_move_to_today(tmp_path):
    assert snapshot_load(tmp_path / "absent.pickle") is None
    ecb = EcbSimulator(seed=4)
    ecb.today = ecb.today.replace(year=ecb.today.year - 1)
    ecb.persist_to(snapshot_path(tmp_path, "ecb"))
    loaded = demo_load("ecb", tmp_path)
    assert loaded is not None
    assert loaded.seed == 4
    assert loaded.today > ecb.today
