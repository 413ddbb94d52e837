"""The Wise client against the simulator over real HTTP (respx only for one retry rule)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import respx

from accounts.wise.client import (
    WiseAuthError,
    WiseBadResponse,
    WiseClient,
    WiseRate,
    WiseRateLimited,
    WiseScaRefused,
    WiseUnavailable,
    statement_ranges,
)
from accounts.wise.sca import signature_valid
from simulators.wise.fixtures import rsa_keypair
from simulators.wise.generator import PROFILE_BUSINESS
from simulators.wise.server import SIM_TOKEN


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _client(sim, sleeps=None, **options) -> WiseClient:
    options.setdefault("backoff", 0.001)
    return WiseClient(
        sim.url,
        options.pop("token", SIM_TOKEN),
        sleep=sleeps if sleeps is not None else (lambda s: None),
        timeout=options.pop("timeout", 5),
        **options,
    )


def test_profiles_balances_and_statement_in_wises_shapes_with_decimals(wise_sim):
    with _client(wise_sim) as client:
        profiles = client.profiles()
        balances = client.balances(PROFILE_BUSINESS)
        usd = next(b for b in balances if b.currency == "USD" and b.type == "STANDARD")
        statement = client.statement(
            PROFILE_BUSINESS, usd.id, "USD", wise_sim.since, wise_sim.until + timedelta(seconds=1)
        )
    assert [(p.id, p.type) for p in profiles] == [(40111, "BUSINESS"), (40112, "PERSONAL")]
    assert profiles[0].name == "Quinn Studio LLC"
    assert {(b.currency, b.type) for b in balances} == {
        ("USD", "STANDARD"),
        ("EUR", "STANDARD"),
        ("GBP", "STANDARD"),
        ("JPY", "STANDARD"),
        ("USD", "SAVINGS"),
    }
    jar = next(b for b in balances if b.type == "SAVINGS")
    assert jar.name == "Tax reserve"
    assert isinstance(usd.amount, Decimal)
    assert usd.amount == wise_sim.business.balance(usd.id).amount
    assert set(statement) >= {
        "accountHolder",
        "issuer",
        "bankDetails",
        "transactions",
        "endOfStatementBalance",
        "query",
    }
    first = statement["transactions"][0]
    assert set(first) == {
        "type",
        "date",
        "amount",
        "totalFees",
        "details",
        "exchangeDetails",
        "runningBalance",
        "referenceNumber",
    }
    assert isinstance(first["amount"]["value"], Decimal)
    assert statement["endOfStatementBalance"]["value"] == usd.amount
    assert len(statement["transactions"]) == len(wise_sim.business.balance(usd.id).lines)


def test_rates_are_decimal_with_aware_times(wise_sim):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with _client(wise_sim) as client:
        latest = client.rates(source="EUR", target="USD")
        at = client.rates(source="EUR", target="USD", at=start)
        history = client.rates(
            source="GBP", target="JPY", start=start, end=start + timedelta(days=6), group="day"
        )
    assert len(latest) == 1
    assert isinstance(latest[0], WiseRate)
    assert isinstance(latest[0].rate, Decimal)
    assert at[0].time == start
    assert [r.time for r in history] == [start + timedelta(days=n) for n in range(7)]
    assert all(r.source == "GBP" and r.target == "JPY" and r.rate > 100 for r in history)


def test_a_refused_token_is_an_auth_error_with_wises_message(wise_sim):
    with (
        _client(wise_sim, token="wrong") as client,
        pytest.raises(WiseAuthError, match="Invalid token"),
    ):
        client.profiles()


def test_rate_limit_waits_as_long_as_retry_after_says(wise_sim, sleeps):
    wise_sim.limit_per_minute, wise_sim.window_seconds = 2, 60
    with _client(wise_sim, sleeps, max_backoff=120) as client:
        client.profiles()
        client.profiles()
        with pytest.raises(WiseRateLimited):  # the window is a minute: retries run out
            client.profiles()
    assert len(sleeps) == 5
    assert all(seconds >= 55 for seconds in sleeps)  # honours Retry-After, not the backoff
    assert wise_sim.requests[-1].status == 429


def test_a_retry_after_longer_than_we_may_wait_raises_at_once(wise_sim, sleeps):
    wise_sim.limit_per_minute = 0
    with (
        _client(wise_sim, sleeps, max_backoff=10) as client,
        pytest.raises(WiseRateLimited) as caught,
    ):
        client.profiles()
    assert caught.value.retry_after == 60
    assert sleeps == []


def test_server_errors_are_retried_with_growing_jittered_backoff_then_raise(wise_sim, sleeps):
    wise_sim.set_faults(error_rate=1.0)
    client = _client(wise_sim, sleeps, backoff=1, max_retries=4, max_backoff=5)
    with client, pytest.raises(WiseUnavailable, match=r"500.*gave up after 5 attempts"):
        client.profiles()
    assert len(sleeps) == 4
    for attempt, seconds in enumerate(sleeps):
        cap = min(5, 2**attempt)
        assert cap / 2 <= seconds <= cap


def test_malformed_json_is_retried_then_a_bad_response(wise_sim):
    wise_sim.set_faults(malformed_rate=1.0)
    with _client(wise_sim, max_retries=2) as client, pytest.raises(WiseBadResponse, match="JSON"):
        client.profiles()
    assert len(wise_sim.requests) == 3


def test_a_slow_reply_times_out_and_is_retried(wise_sim):
    wise_sim.set_faults(slow_rate=0.5, slow_seconds=1.5)
    with _client(wise_sim, timeout=0.5, max_retries=10) as client:
        for _ in range(4):
            assert client.profiles()
    assert "slow" in {r.fault for r in wise_sim.requests}


def test_statements_over_469_days_are_refused_by_the_client_and_by_wise(wise_sim):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with _client(wise_sim) as client, pytest.raises(ValueError, match="469"):
        client.statement(PROFILE_BUSINESS, 70001, "USD", start, start + timedelta(days=470))
    response = httpx.get(
        f"{wise_sim.url}/v1/profiles/{PROFILE_BUSINESS}/balance-statements/70001/statement.json",
        params={
            "currency": "USD",
            "intervalStart": "2024-01-01T00:00:00.000Z",
            "intervalEnd": "2025-06-01T00:00:00.000Z",
        },
        headers={"Authorization": f"Bearer {SIM_TOKEN}"},
    )
    assert response.status_code == 400
    assert "469" in response.json()["errors"][0]["message"]
    ranges = list(statement_ranges(start, start + timedelta(days=1000)))
    assert [b - a for a, b in ranges] == [timedelta(days=469)] * 2 + [timedelta(days=62)]
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))


def _statement(client):
    return client.statement(
        PROFILE_BUSINESS, 70002, "EUR", datetime.now(UTC) - timedelta(days=30), datetime.now(UTC)
    )


def test_sca_with_the_registered_key_passes(wise_sim, wise_keypair):
    wise_sim.sca_require(PROFILE_BUSINESS)
    wise_sim.sca_public_key_add(wise_keypair.public_pem)
    with _client(wise_sim, private_key_pem=wise_keypair.private_pem) as client:
        statement = _statement(client)
    assert statement["query"]["currency"] == "EUR"
    challenge, signed = wise_sim.requests_to("GET", "statement.json")
    assert challenge.status == 403
    assert signed.status == 200
    ott, signature = signed.headers["x-2fa-approval"], signed.headers["x-signature"]
    assert "x-signature" not in challenge.headers
    assert signature_valid(ott.encode("ascii"), signature, wise_keypair.public_pem)


def test_sca_with_an_unregistered_key_is_refused(wise_sim, wise_keypair):
    wise_sim.sca_require(PROFILE_BUSINESS)
    wise_sim.sca_public_key_add(wise_keypair.public_pem)
    other = rsa_keypair()
    client = _client(wise_sim, private_key_pem=other.private_pem)
    with client, pytest.raises(WiseScaRefused, match="rejected the SCA signature"):
        _statement(client)
    assert [r.status for r in wise_sim.requests_to("GET", "statement.json")] == [403, 403]


def test_sca_without_a_key_says_what_to_configure(wise_sim):
    wise_sim.sca_require(PROFILE_BUSINESS)
    with _client(wise_sim) as client, pytest.raises(WiseScaRefused, match="add the private key"):
        _statement(client)


def test_sca_approval_lasts_so_the_next_statement_is_not_challenged(wise_sim, wise_keypair):
    wise_sim.sca_require(PROFILE_BUSINESS)
    wise_sim.sca_public_key_add(wise_keypair.public_pem)
    with _client(wise_sim, private_key_pem=wise_keypair.private_pem) as client:
        _statement(client)
        _statement(client)
    assert [r.status for r in wise_sim.requests_to("GET", "statement.json")] == [403, 200, 200]


@respx.mock
def test_retry_after_as_an_http_date_is_honoured(sleeps):
    later = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    respx.get("https://wise.test/v2/profiles").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": later}),
            httpx.Response(200, json=[]),
        ]
    )
    with WiseClient("https://wise.test", "t", sleep=sleeps, backoff=0.01, max_backoff=60) as client:
        assert client.profiles() == []
    assert 25 <= sleeps[0] <= 31
