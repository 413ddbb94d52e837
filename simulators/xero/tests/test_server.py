"""The Xero simulator speaks Xero's shapes and enforces its rules (plain httpx, no app)."""

import base64
import hashlib
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from simulators.base import json_dumps
from simulators.xero import seed
from simulators.xero.server import XeroSimulator
from simulators.xero.shapes import where_compile

API = "/api.xro/2.0"


@pytest.fixture
def sim():
    with XeroSimulator(seed_value=3, auto_consent=True) as server:
        yield server


def _code(sim, verifier):
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": seed.DEMO_CLIENT_ID,
            "state": "s1",
            "redirect_uri": "http://app/cb",
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
            "scope": "offline_access accounting.settings accounting.banktransactions",
        }
    )
    consent = httpx.get(f"{sim.url}/identity/connect/authorize?{query}")
    return parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]


def _exchange(sim, code, verifier):
    return httpx.post(
        f"{sim.url}/connect/token",
        auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://app/cb",
            "code_verifier": verifier,
        },
    )


def _tokens(sim, verifier="v" * 50):
    return _exchange(sim, _code(sim, verifier), verifier).json()


def _api(sim, token, tenant=None):
    return httpx.Client(
        base_url=f"{sim.url}{API}",
        headers={
            "Authorization": f"Bearer {token['access_token']}",
            "xero-tenant-id": tenant or sim.tenant_ids[0],
            "Content-Type": "application/json",
        },
    )


def test_refresh_tokens_rotate_and_the_previous_one_has_a_grace_period(sim):
    tokens = _tokens(sim)
    assert tokens["expires_in"] == 1800
    assert tokens["refresh_token"]
    auth = (seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET)

    def refresh(token):
        return httpx.post(
            f"{sim.url}/connect/token",
            auth=auth,
            data={"grant_type": "refresh_token", "refresh_token": token},
        )

    first = refresh(tokens["refresh_token"]).json()
    assert first["refresh_token"] != tokens["refresh_token"]
    assert refresh(tokens["refresh_token"]).status_code == 200  # lost reply: still honoured
    sim.advance(1801)
    reply = refresh(tokens["refresh_token"])
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant"}
    assert refresh(first["refresh_token"]).status_code == 200


def test_codes_are_single_use_and_checked_against_the_pkce_verifier(sim):
    code = _code(sim, "v" * 50)
    wrong = _exchange(sim, code, "w" * 50)
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant"}
    assert _exchange(sim, code, "v" * 50).status_code == 400  # spent by the first attempt
    code = _code(sim, "v" * 50)
    assert _exchange(sim, code, "v" * 50).status_code == 200
    assert _exchange(sim, code, "v" * 50).status_code == 400


def test_errors_expired_tokens_and_other_tenants(sim):
    tokens = _tokens(sim)
    with _api(sim, tokens) as api:
        assert api.get("/Organisation").json()["Organisations"][0]["BaseCurrency"] == "USD"
        other = api.get("/Organisation", headers={"xero-tenant-id": "0" * 32})
        assert other.status_code == 403
        assert other.json()["Detail"] == "AuthenticationUnsuccessful"
        payments = api.get("/Payments")  # no payments scope was granted
        assert payments.status_code == 403
        sim.advance(1801)
        expired = api.get("/Organisation")
        assert expired.status_code == 401
        assert expired.json()["Detail"].startswith("TokenExpired")


def _spend(account_code="429", reference="r1", amount="10.00"):
    return {
        "Type": "SPEND",
        "Contact": {"Name": "Shop"},
        "BankAccount": {"Code": "090"},
        "Date": "2025-02-03",
        "Reference": reference,
        "LineAmountTypes": "NoTax",
        "LineItems": [
            {
                "Description": "x",
                "Quantity": 1,
                "UnitAmount": Decimal(amount),
                "AccountCode": account_code,
            }
        ],
    }


def test_summarize_errors_false_reports_each_element_and_default_mode_hides_ids(sim):
    tokens = _tokens(sim)
    body = json_dumps({"BankTransactions": [_spend(), _spend("999", "r2")]})
    with _api(sim, tokens) as api:
        reply = api.put("/BankTransactions", params={"summarizeErrors": "false"}, content=body)
        assert reply.status_code == 200
        ok, bad = reply.json()["BankTransactions"]
        assert ok["StatusAttributeString"] == "OK"
        assert ok["Date"] == "/Date(1738540800000+0000)/"
        assert bad["StatusAttributeString"] == "ERROR"
        assert bad["ValidationErrors"][0]["Message"].startswith("Account code '999'")
        summarized = api.put("/BankTransactions", content=body)
        assert summarized.status_code == 400
        assert summarized.json()["Type"] == "ValidationException"
        # As in Xero, the valid element was created anyway, without its id in the reply.
        listed = api.get("/BankTransactions", params={"where": 'Reference=="r1"'}).json()
        assert listed["pagination"]["itemCount"] == 2


def test_idempotency_keys_replay_until_they_expire(sim):
    tokens = _tokens(sim)
    body = json_dumps({"BankTransactions": [_spend()]})
    with _api(sim, tokens) as api:
        headers = {"Idempotency-Key": "k1"}
        first = api.put("/BankTransactions", content=body, headers=headers).json()
        again = api.put("/BankTransactions", content=body, headers=headers).json()
        assert first == again
        assert len(sim.org().bank_transactions) == 1
        sim.advance(400)
        api.put("/BankTransactions", content=body, headers=headers)
        assert len(sim.org().bank_transactions) == 2
    assert sim.writes == 3


def test_limits_headers_and_429s(sim):
    tokens = _tokens(sim)
    sim.limits_set(minute=2, minute_seconds=30)
    with _api(sim, tokens) as api:
        first = api.get("/Currencies")
        assert first.headers["X-MinLimit-Remaining"] == "1"
        assert first.headers["X-DayLimit-Remaining"] == "4999"
        assert "X-AppMinLimit-Remaining" in first.headers
        api.get("/Currencies")
        limited = api.get("/Currencies")
        assert limited.status_code == 429
        assert limited.headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(limited.headers["Retry-After"]) <= 30


def test_the_where_filter_subset():
    element = {
        "Reference": "bulwark:t1",
        "Type": "SPEND",
        "Date": "/Date(1738540800000+0000)/",
        "BankAccount": {"AccountID": "ABC"},
        "Total": Decimal("10.00"),
    }
    assert where_compile('Reference=="bulwark:t2" OR Reference=="bulwark:t1"')(element)
    assert where_compile('Type=="SPEND" AND Date>=DateTime(2025,02,01)')(element)
    assert not where_compile('Type=="SPEND" AND Date>=DateTime(2025,03,01)')(element)
    assert where_compile('BankAccount.AccountID=Guid("abc") AND Reference.StartsWith("bulwark:")')(
        element
    )
    assert where_compile("Total>5")(element)
    with pytest.raises(ValueError, match="cannot read"):
        where_compile("Reference ~ 1")


def test_a_write_without_a_json_content_type_is_refused_with_an_xml_api_exception(
    sim, contract_violations
):
    tokens = _tokens(sim)
    headers = {"Authorization": f"Bearer {tokens['access_token']}",
               "xero-tenant-id": sim.tenant_ids[0]}  # fmt: skip
    with contract_violations() as seen:
        bare = httpx.put(f"{sim.url}{API}/Currencies", content=b'{"Code": "EUR"}', headers=headers)
    assert bare.status_code == 400
    assert bare.headers["content-type"].startswith("text/xml")
    assert "<Type>PostDataInvalidException</Type>" in bare.text
    assert [v.where for v in seen.violations] == ["header.Content-Type"]
    assert sim.org().currencies == ["USD"]  # nothing was done


def test_a_body_of_the_wrong_type_or_a_missing_tenant_is_refused_as_xero_does(
    sim, contract_violations
):
    tokens = _tokens(sim)
    with _api(sim, tokens) as api, contract_violations() as seen:
        wrong = api.put("/BankTransactions", content=b'{"BankTransactions": [{"Total": "ten"}]}')
        api.headers.pop("xero-tenant-id")
        untenanted = api.get("/Organisation")
    assert (wrong.status_code, wrong.json()["ErrorNumber"]) == (400, 14)
    assert wrong.json()["Message"].startswith("JSON for post data was invalid,")
    assert untenanted.status_code == 403
    assert {v.where for v in seen.violations} >= {
        "body/BankTransactions/0/Total",
        "header.xero-tenant-id",
    }
