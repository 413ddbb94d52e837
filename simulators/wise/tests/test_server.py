"""The Wise simulator speaks Wise's shapes and rules over real HTTP, deterministically."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from simulators.base import SimResponse
from simulators.registry import build
from simulators.wise.generator import PROFILE_BUSINESS, business_generate
from simulators.wise.server import SIM_TOKEN, WiseSimulator, sca_sign

AUTH = {"Authorization": f"Bearer {SIM_TOKEN}"}
START = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _statement_url(sim, balance_id=70001):
    return (
        f"{sim.url}/v1/profiles/{PROFILE_BUSINESS}/balance-statements/{balance_id}/statement.json"
    )


def _get(url, **kwargs):
    return httpx.get(url, headers={**AUTH, **kwargs.pop("headers", {})}, **kwargs)


def test_the_same_seed_gives_the_same_business_and_another_seed_another():
    first = business_generate(seed=3, start=START, until=UNTIL, size=800)
    again = business_generate(seed=3, start=START, until=UNTIL, size=800)
    other = business_generate(seed=4, start=START, until=UNTIL, size=800)
    assert [b.lines for b in first.balances] == [b.lines for b in again.balances]
    assert [b.lines for b in first.balances] != [b.lines for b in other.balances]


@pytest.mark.parametrize("size", [300, 3000])
def test_running_balances_hold_and_no_balance_goes_negative(size):
    business = business_generate(seed=9, start=START, until=UNTIL, size=size)
    assert abs(business.line_count - size) < size * 0.25
    for balance in business.balances:
        running = Decimal(0)
        for line in balance.lines:
            running += line["amount"]["value"]
            assert line["runningBalance"]["value"] == running
            assert running >= 0
            if balance.currency == "JPY":
                assert line["amount"]["value"] == line["amount"]["value"].to_integral_value()
        assert balance.times == sorted(balance.times)


def test_the_business_has_every_kind_of_line_a_freelancer_has():
    business = business_generate(seed=9, start=START, until=UNTIL, size=3000)
    kinds = {line["details"]["type"] for b in business.balances for line in b.lines}
    assert {"CARD", "DEPOSIT", "CONVERSION", "TRANSFER", "MONEY_ADDED", "BALANCE_INTEREST"} <= kinds
    usd = business.balance(70001)
    refunds = [ln for ln in usd.lines if ln["details"]["type"] == "CARD" and ln["type"] == "CREDIT"]
    assert refunds
    refs = {ln["referenceNumber"] for ln in usd.lines if ln["type"] == "DEBIT"}
    assert refunds[0]["referenceNumber"] in refs  # a refund reuses the payment's reference
    conversions = [
        ln
        for b in business.balances
        for ln in b.lines
        if ln["details"]["type"] == "CONVERSION" and ln["details"]["rate"] != 1
    ]
    source = next(ln for ln in conversions if ln["type"] == "DEBIT")
    target = next(
        ln
        for ln in conversions
        if ln["referenceNumber"] == source["referenceNumber"] and ln["type"] == "CREDIT"
    )
    details = source["details"]
    assert -source["amount"]["value"] == details["sourceAmount"]["value"]
    assert source["totalFees"]["value"] == details["fee"]["value"] > 0
    assert target["amount"]["value"] == details["targetAmount"]["value"]
    expected = (details["sourceAmount"]["value"] - details["fee"]["value"]) * details["rate"]
    assert Decimal(0) <= expected - target["amount"]["value"] < Decimal("0.01") * 100


def test_a_missing_or_wrong_token_gets_wises_401(wise_sim):
    missing = httpx.get(f"{wise_sim.url}/v2/profiles")
    wrong = httpx.get(f"{wise_sim.url}/v2/profiles", headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert wrong.json() == {"error": "invalid_token", "error_description": "Invalid token"}


def test_balances_need_types(wise_sim, contract_violations):
    with contract_violations() as seen:
        response = _get(f"{wise_sim.url}/v4/profiles/{PROFILE_BUSINESS}/balances")
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert "'types' is missing" in response.json()["message"]
    assert [v.where for v in seen.violations] == ["query.types"]
    jars = _get(f"{wise_sim.url}/v4/profiles/{PROFILE_BUSINESS}/balances?types=SAVINGS").json()
    assert [(j["type"], j["name"]) for j in jars] == [("SAVINGS", "Tax reserve")]


def test_statements_are_numbers_not_strings_and_newest_first(wise_sim):
    start = wise_sim.since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    end = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    params = {"currency": "USD", "intervalStart": start, "intervalEnd": end}
    response = _get(_statement_url(wise_sim), params=params)
    assert response.status_code == 200
    assert re.search(r'"amount": \{"value": -?\d+\.\d\d, "currency": "USD"\}', response.text)
    body = json.loads(response.content, parse_float=Decimal)
    dates = [t["date"] for t in body["transactions"]]
    assert dates == sorted(dates, reverse=True)
    assert body["endOfStatementBalance"]["value"] == wise_sim.business.balance(70001).amount
    assert body["query"]["accountId"] == 70001


def test_the_pdf_statement_is_a_pdf_the_same_every_time(wise_sim):
    params = {
        "currency": "USD",
        "intervalStart": wise_sim.since.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "intervalEnd": (wise_sim.since + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    url = _statement_url(wise_sim).replace("statement.json", "statement.pdf")
    first, again = _get(url, params=params), _get(url, params=params)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/pdf"
    assert first.content.startswith(b"%PDF-1.")
    assert first.content == again.content  # the guard holds it to the contract


def test_a_pdf_that_is_no_pdf_breaks_the_contract():
    from simulators.contracts.shapes import pdf_document

    assert pdf_document(b"%PDF-1.4 ... startxref 12 %%EOF\n") == []
    assert len(pdf_document(b"<html>not a pdf</html>")) == 3


def test_a_statement_in_the_wrong_currency_is_refused(wise_sim):
    response = _get(
        _statement_url(wise_sim),
        params={
            "currency": "EUR",
            "intervalStart": "2025-01-01T00:00:00Z",
            "intervalEnd": "2025-02-01T00:00:00Z",
        },
    )
    assert response.status_code == 400
    assert "holds USD" in response.json()["errors"][0]["message"]


def test_rate_limit_answers_429_with_retry_after(wise_sim):
    wise_sim.limit_per_minute = 1
    assert _get(f"{wise_sim.url}/v2/profiles").status_code == 200
    limited = _get(f"{wise_sim.url}/v2/profiles")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-Rate-Limited-By"] == "wise-public-api"


def test_sca_challenge_and_signed_retry(wise_sim, wise_keypair):
    httpx.post(f"{wise_sim.url}/_sim/public-keys", content=wise_keypair.public_pem.encode())
    httpx.post(
        f"{wise_sim.url}/_sim/sca", json={"profile_id": PROFILE_BUSINESS, "approval_seconds": 0}
    )
    params = {
        "currency": "USD",
        "intervalStart": "2025-01-01T00:00:00Z",
        "intervalEnd": "2025-02-01T00:00:00Z",
    }
    challenge = _get(_statement_url(wise_sim), params=params)
    assert challenge.status_code == 403
    assert challenge.headers["x-2fa-approval-result"] == "REJECTED"
    ott = challenge.headers["x-2fa-approval"]
    signed = _get(
        _statement_url(wise_sim),
        params=params,
        headers={"x-2fa-approval": ott, "X-Signature": sca_sign(ott, wise_keypair.private_pem)},
    )
    assert signed.status_code == 200
    assert signed.headers["x-2fa-approval-result"] == "APPROVED"
    reused = _get(
        _statement_url(wise_sim),
        params=params,
        headers={"x-2fa-approval": ott, "X-Signature": sca_sign(ott, wise_keypair.private_pem)},
    )
    assert reused.status_code == 403  # a one-time token works once


def test_webhooks_are_signed_with_the_published_key(wise_sim):
    published = httpx.get(f"{wise_sim.url}/_sim/webhook-key").text
    assert published == wise_sim.webhook_public_key_pem
    body, headers = wise_sim.webhook_request({"event_type": "balances#update", "data": {}})
    key = serialization.load_pem_public_key(published.encode())
    key.verify(
        base64.b64decode(headers["X-Signature-SHA256"]), body, padding.PKCS1v15(), hashes.SHA256()
    )
    assert headers["X-Delivery-Id"]


def test_a_line_added_through_control_moves_the_balance(wise_sim):
    before = wise_sim.business.balance(70002).amount
    added = httpx.post(
        f"{wise_sim.url}/_sim/transactions", json={"balance_id": 70002, "amount": "99.50"}
    )
    assert added.status_code == 201
    assert wise_sim.business.balance(70002).amount == before + Decimal("99.50")
    refused = httpx.post(
        f"{wise_sim.url}/_sim/transactions", json={"balance_id": 70002, "amount": "-99999999"}
    )
    assert refused.status_code == 400


def test_rates_for_any_pair_and_history(wise_sim):
    latest = _get(f"{wise_sim.url}/v1/rates", params={"source": "EUR", "target": "USD"}).json()
    assert len(latest) == 1
    assert latest[0]["time"].endswith("+0000")
    history = _get(
        f"{wise_sim.url}/v1/rates",
        params={
            "source": "USD",
            "target": "JPY",
            "from": "2026-01-01",
            "to": "2026-01-10",
            "group": "day",
        },
    ).json()
    assert len(history) == 10
    assert (
        _get(f"{wise_sim.url}/v1/rates", params={"source": "EUR", "target": "ZZZ"}).status_code
        == 400
    )


def test_the_registry_builds_the_wise_simulator():
    simulator = build("wise", seed=2)
    assert isinstance(simulator, WiseSimulator)
    assert simulator.line_count > 1000


def test_trimming_to_an_exact_size_keeps_running_balances():
    business = business_generate(seed=5, start=START, until=UNTIL, size=1200)
    business.trim(1000, PROFILE_BUSINESS)
    balances = [b for b in business.balances if b.profile_id == PROFILE_BUSINESS]
    assert sum(len(b.lines) for b in balances) == 1000
    for balance in balances:
        assert balance.amount == (
            balance.lines[-1]["runningBalance"]["value"] if balance.lines else 0
        )


def test_a_parameter_of_the_wrong_type_is_refused(wise_sim, contract_violations):
    with contract_violations() as seen:
        response = _get(f"{wise_sim.url}/v4/profiles/abc/balances?types=STANDARD")
    assert (response.status_code, response.json()["error"]) == (400, "Bad Request")
    assert [v.where for v in seen.violations] == ["path.profileId"]


def test_a_reply_that_drifts_from_the_description_is_caught(
    wise_sim, contract_violations, monkeypatch
):
    monkeypatch.setattr(
        wise_sim, "profiles", lambda request: SimResponse.json([{"id": "40111", "type": 7}])
    )
    wise_sim._routes = [(m, p, wise_sim.profiles if h.__name__ == "profiles" else h)
                        for m, p, h in wise_sim._routes]  # fmt: skip
    with contract_violations() as seen:
        _get(f"{wise_sim.url}/v2/profiles")
    assert {v.direction for v in seen.violations} == {"response"}
    (drift,) = seen.violations  # the profile is none of the oneOf kinds the spec has
    assert (drift.where, drift.location) == ("body/0", "#/components/schemas/profile/oneOf")
