"""The QuickBooks simulator over plain HTTP: Intuit's contract as the XSDs and the docs
give it, and the service's refusals in its own shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulators.base import json_dumps
from simulators.persist import snapshot_load
from simulators.quickbooks import schema, seed
from simulators.quickbooks.fixtures import REDIRECT_URI, qbo_connect
from simulators.quickbooks.server import REFRESH_GRACE_SECONDS, QuickBooksSimulator
from simulators.registry import build

ROOT = Path(__file__).resolve().parents[3]
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
BASIC = (seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET)


class Api:
    """Raw calls to one company, as any HTTP client would make them."""

    def __init__(self, sim: QuickBooksSimulator, realm_index: int = 0) -> None:
        self.sim = sim
        self.tokens = qbo_connect(sim, sim.realm_ids[realm_index])
        self.base = f"{sim.url}/v3/company/{self.tokens['realmId']}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}",
                "Accept": "application/json"}  # fmt: skip

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(f"{self.base}/{path}", params=params, headers=self.headers(), timeout=5)

    def post(self, path: str, body: object, **params: str) -> httpx.Response:
        return httpx.post(
            f"{self.base}/{path}", params=params, content=json_dumps(body).encode(),
            headers={**self.headers(), "Content-Type": "application/json"}, timeout=5,
        )  # fmt: skip

    def query(self, text: str) -> httpx.Response:
        return self.get("query", query=text, minorversion="75")


def purchase(doc: str = "bw-1", amount: str = "52.50", account: str = "1") -> dict:
    return {
        "PaymentType": "Cash",
        "AccountRef": {"value": account},
        "TxnDate": "2026-03-02",
        "DocNumber": doc,
        "Line": [
            {
                "DetailType": "AccountBasedExpenseLineDetail",
                "Amount": Decimal(amount),
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "11"}},
            }
        ],
    }


def js(response: httpx.Response) -> dict:
    """The body with its numbers as Decimals, as a careful client reads it."""
    return json.loads(response.content, parse_float=Decimal)


def fault(response: httpx.Response) -> dict:
    return js(response)["Fault"]["Error"][0]


def test_the_vendored_xsds_are_intuits_as_published():
    for shared in (ROOT.parent / "shared", ROOT.parents[1] / "shared"):
        published = shared / "specs" / "quickbooks"
        if published.is_dir():
            break
    else:
        pytest.skip("the publishers' specs (../shared/specs) are not beside this checkout")
    for source in published.iterdir():
        assert (schema.XSD_DIR / source.name).read_bytes() == source.read_bytes(), source.name


def test_the_schema_check_finds_what_json_and_the_xsd_forbid():
    good = {
        "PaymentType": "Cash",
        "AccountRef": {"value": "35", "name": "Checking"},
        "EntityRef": {"value": "44", "type": "Vendor"},
        "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": Decimal("1.50"),
                  "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "13"}}}],
    }  # fmt: skip
    assert schema.request_violations("Purchase", good) == []
    cases = {
        "Purchase.Bogus": ({**good, "Bogus": 1}, "unknown"),
        "Purchase.AccountRef": ({**good, "AccountRef": "35"}, "shape"),
        "Purchase.Line": ({**good, "Line": good["Line"][0]}, "shape"),
        "Purchase.TxnDate": ({**good, "TxnDate": None}, "shape"),
        "Purchase.PaymentType": ({**good, "PaymentType": "Wire"}, "value"),
        "Purchase.Credit": ({**good, "Credit": "yes"}, "value"),
        "Purchase.TotalAmt": ({**good, "TotalAmt": True}, "shape"),
    }
    for path, (body, kind) in cases.items():
        found = schema.request_violations("Purchase", body)
        assert [(v.path, v.kind) for v in found] == [(path, kind)], found
    # Intuit's own Transfers carry no TransferEx, which the XSD requires: relaxed.
    transfer = {"FromAccountRef": {"value": "1"}, "ToAccountRef": {"value": "2"}, "Amount": 5}
    assert schema.request_violations("Transfer", transfer) == []
    missing = schema.response_violations({"Fault": {"Error": [{"Message": "m"}]}})
    assert [(v.path, v.kind) for v in missing] == [("IntuitResponse.Fault.Error", "missing")]


def test_a_malformed_body_is_refused_as_intuit_refuses_it_and_is_recorded(qbo_sim):
    api = Api(qbo_sim)
    body = purchase()
    body["Line"][0]["Amount"] = "fifty"
    response = api.post("purchase", body)
    assert response.status_code == 400
    assert response.json()["Fault"]["type"] == "ValidationFault"
    error = fault(response)
    assert error["code"] == "2010"
    assert error["Message"] == "Request has invalid or unsupported property"
    assert "Purchase.Line.Amount" in error["Detail"]
    assert [(v.direction, v.kind) for v in qbo_sim.violations] == [("request", "value")]
    assert qbo_sim.company().table("Purchase") == {}
    missing = api.post("batch", {})
    assert fault(missing)["code"] == "2020"
    qbo_sim.violations.clear()


def test_a_response_breaking_the_schema_is_a_system_fault_and_recorded(qbo_sim):
    api = Api(qbo_sim)
    qbo_sim.company().table("Account")["1"]["Nickname"] = "oops"  # a simulator bug
    response = api.get("account/1")
    assert response.status_code == 500
    assert response.json()["Fault"]["type"] == "SystemFault"
    assert [(v.direction, v.path) for v in qbo_sim.violations] == [
        ("response", "IntuitResponse.Account.Nickname")
    ]
    qbo_sim.violations.clear()


def test_the_oauth_flow_and_rolling_refresh_tokens(qbo_sim):
    start = httpx.get(
        f"{qbo_sim.url}/connect/oauth2",
        params={"client_id": seed.DEMO_CLIENT_ID, "response_type": "code", "state": "s1",
                "scope": "com.intuit.quickbooks.accounting", "redirect_uri": REDIRECT_URI},
    )  # fmt: skip
    assert start.status_code == 302
    back = parse_qs(urlsplit(start.headers["Location"]).query)
    assert back["state"] == ["s1"]
    assert back["realmId"] == [qbo_sim.realm_ids[0]]
    code = back["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    in_form = {**form, "client_id": BASIC[0], "client_secret": BASIC[1]}
    in_body = httpx.post(f"{qbo_sim.url}{TOKEN_PATH}", data=in_form)
    assert (in_body.status_code, in_body.json()) == (401, {"error": "invalid_client"})
    first = httpx.post(f"{qbo_sim.url}{TOKEN_PATH}", data=form, auth=BASIC).json()
    assert first["expires_in"] == 3600
    assert first["token_type"] == "bearer"
    again = httpx.post(f"{qbo_sim.url}{TOKEN_PATH}", data=form, auth=BASIC)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")

    def refresh(token: str) -> httpx.Response:
        return httpx.post(
            f"{qbo_sim.url}{TOKEN_PATH}",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=BASIC,
        )

    second = refresh(first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    qbo_sim.advance(REFRESH_GRACE_SECONDS - 60)
    assert refresh(first["refresh_token"]).status_code == 200  # within the grace
    qbo_sim.advance(120)
    late = refresh(first["refresh_token"])
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")
    newest = refresh(second["refresh_token"])  # superseded too, but within its own grace
    assert newest.status_code == 200
    expired = httpx.get(
        f"{qbo_sim.url}/v3/company/{qbo_sim.realm_ids[0]}/preferences",
        headers={"Authorization": f"Bearer {first['access_token']}"},
    )
    assert expired.status_code == 401
    assert expired.json()["fault"]["error"][0]["code"] == "3200"


def test_a_token_only_opens_its_own_company(qbo_sim):
    api = Api(qbo_sim)
    other = qbo_sim.realm_ids[1]
    response = httpx.get(f"{qbo_sim.url}/v3/company/{other}/preferences", headers=api.headers())
    assert response.status_code == 403


def test_the_query_language_subset(qbo_sim):
    api = Api(qbo_sim)
    banks = api.query("select * from Account where AccountType = 'Bank' orderby Name desc")
    rows = banks.json()["QueryResponse"]
    assert [a["Name"] for a in rows["Account"]] == ["Savings", "Checking"]
    assert (rows["startPosition"], rows["maxResults"]) == (1, 2)
    assert api.query("SELECT count(*) FROM Account").json()["QueryResponse"] == {"totalCount": 19}
    page = api.query("select * from Account startposition 18 maxresults 5").json()
    assert [a["Id"] for a in page["QueryResponse"]["Account"]] == ["18", "19"]
    listed = api.query(
        "select * from Account where AcctNum in ('1000', '6000') and Name like 'Ch%'"
    )
    assert [a["Name"] for a in listed.json()["QueryResponse"]["Account"]] == ["Checking"]
    assert api.query("select * from Account where Name = 'nope'").json()["QueryResponse"] == {}
    disjunction = api.query("select * from Account where Name = 'a' or Name = 'b'")
    assert disjunction.status_code == 400
    error = fault(disjunction)
    assert error["code"] == "4000"
    assert error["Message"] == "Error parsing query"
    assert error["Detail"].startswith('QueryParserError: Encountered " <OR> "or "" at line 1')
    assert fault(api.query("select Id, Name from Account"))["code"] == "4000"
    assert fault(api.query("select * from Account where Colour = 'red'"))["code"] == "4001"


def test_create_read_update_with_sync_tokens_and_delete(qbo_sim):
    api = Api(qbo_sim)
    created = js(api.post("purchase", purchase(), requestid="r1"))["Purchase"]
    assert (created["Id"], created["SyncToken"], created["TotalAmt"]) == (
        "1",
        "0",
        Decimal("52.50"),
    )
    assert created["AccountRef"] == {"value": "1", "name": "Checking"}
    updated = api.post("purchase", {**purchase(amount="60.00"), "Id": "1", "SyncToken": "0"})
    assert updated.json()["Purchase"]["SyncToken"] == "1"
    stale = api.post("purchase", {**purchase(amount="70.00"), "Id": "1", "SyncToken": "0"})
    assert stale.status_code == 400
    assert (fault(stale)["code"], fault(stale)["Message"]) == ("5010", "Stale Object Error")
    checking = js(api.get("account/1"))["Account"]
    assert checking["CurrentBalance"] == Decimal("-60.00")
    gone = api.post("purchase", {"Id": "1", "SyncToken": "1"}, operation="delete")
    assert gone.json()["Purchase"] == {"domain": "QBO", "status": "Deleted", "Id": "1"}
    assert js(api.get("account/1"))["Account"]["CurrentBalance"] == 0
    assert fault(api.get("purchase/1"))["code"] == "610"
    account_delete = api.post("account", {"Id": "1", "SyncToken": "0"}, operation="delete")
    assert (fault(account_delete)["code"], fault(account_delete)["Message"]) == (
        "500", "Unsupported Operation",
    )  # fmt: skip


def test_the_same_requestid_returns_the_first_answer_never_a_second_entity(qbo_sim):
    api = Api(qbo_sim)
    qbo_sim.set_commit_faults(lost_rate=1.0)
    lost = api.post("purchase", purchase(), requestid="same-id")
    assert lost.status_code == 502  # done, but the answer was lost on the way
    qbo_sim.set_commit_faults()
    first = api.post("purchase", purchase(), requestid="same-id")
    assert first.status_code == 200
    assert first.json()["Purchase"]["Id"] == "1"
    assert list(qbo_sim.company().table("Purchase")) == ["1"]
    assert qbo_sim.replayed == 1
    too_long = api.post("purchase", purchase(), requestid="x" * 51)
    assert "more than 50 characters" in fault(too_long)["Detail"]


def test_a_batch_holds_at_most_30_items_and_answers_each(qbo_sim):
    api = Api(qbo_sim)
    items = [{"bId": str(n), "operation": "create", "Purchase": purchase(f"bw-{n}")}
             for n in range(31)]  # fmt: skip
    refused = api.post("batch", {"BatchItemRequest": items})
    assert refused.status_code == 400
    assert "30" in fault(refused)["Detail"]
    assert qbo_sim.company().table("Purchase") == {}
    bad = purchase("bw-bad", account="99")
    answered = api.post("batch", {"BatchItemRequest": [
        {"bId": "1", "operation": "create", "Purchase": purchase("bw-1")},
        {"bId": "2", "operation": "create", "Purchase": bad},
        {"bId": "3", "Query": "select count(*) from Purchase"},
    ]}).json()["BatchItemResponse"]  # fmt: skip
    assert answered[0]["Purchase"]["DocNumber"] == "bw-1"
    assert answered[1]["Fault"]["Error"][0]["code"] == "2500"
    assert answered[2]["QueryResponse"] == {"totalCount": 1}


def test_only_a_multicurrency_company_holds_a_foreign_bank_account(qbo_sim):
    euro = {"Name": "Wise EUR", "AccountType": "Bank", "CurrencyRef": {"value": "EUR"}}
    us = Api(qbo_sim, 0)
    made = us.post("account", euro).json()["Account"]
    assert made["CurrencyRef"] == {"value": "EUR", "name": "Euro"}
    income = us.post("account", {**euro, "Name": "EUR sales", "AccountType": "Income"})
    assert fault(income)["code"] == "6000"
    uk = Api(qbo_sim, 1)
    refused = uk.post("account", euro)
    assert refused.status_code == 400
    error = fault(refused)
    assert (error["code"], error["element"]) == ("6000", "CurrencyRef")
    assert "Multicurrency is not enabled" in error["Detail"]
    prefs = uk.get("preferences").json()["Preferences"]["CurrencyPrefs"]
    assert prefs == {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "GBP"}}


def test_foreign_currency_transactions_carry_home_units_per_foreign_unit(qbo_sim):
    api = Api(qbo_sim)
    euro = api.post("account", {"Name": "Wise EUR", "AccountType": "Bank",
                                "CurrencyRef": {"value": "EUR"}}).json()["Account"]  # fmt: skip
    deposit = js(api.post("deposit", {
        "DepositToAccountRef": {"value": euro["Id"]}, "TxnDate": "2026-03-02",
        "ExchangeRate": Decimal("1.0850"),
        "Line": [{"DetailType": "DepositLineDetail", "Amount": Decimal("1000.00"),
                  "DepositLineDetail": {"AccountRef": {"value": "8"}}},
                 {"DetailType": "DepositLineDetail", "Amount": Decimal("-4.37"),
                  "DepositLineDetail": {"AccountRef": {"value": "11"}}}],
    }))["Deposit"]  # fmt: skip
    assert deposit["CurrencyRef"]["value"] == "EUR"
    assert (deposit["TotalAmt"], deposit["HomeTotalAmt"]) == (Decimal("995.63"), Decimal("1080.26"))
    balance = js(api.get(f"account/{euro['Id']}"))["Account"]["CurrentBalance"]
    assert balance == Decimal("995.63")
    rate = api.get("exchangerate", sourcecurrencycode="EUR", asofdate="2026-03-02")
    assert rate.json()["ExchangeRate"]["TargetCurrencyCode"] == "USD"
    jpy = {"Name": "Wise JPY", "AccountType": "Bank", "CurrencyRef": {"value": "JPY"}}
    yen = api.post("account", jpy).json()["Account"]
    mixed = api.post("transfer", {"FromAccountRef": {"value": euro["Id"]},
                                  "ToAccountRef": {"value": yen["Id"]}, "Amount": 10})  # fmt: skip
    assert "one foreign currency" in fault(mixed)["Detail"]


def test_change_data_capture_lists_changes_then_deletions(qbo_sim):
    api = Api(qbo_sim)
    since = qbo_sim.company().clock.stamp(qbo_sim.now() - 5)
    api.post("purchase", purchase("bw-1"))
    api.post("purchase", purchase("bw-2"))
    api.post("purchase", {"Id": "1", "SyncToken": "0"}, operation="delete")
    answer = api.get("cdc", entities="Purchase,Deposit", changedSince=since).json()
    purchases, deposits = answer["CDCResponse"][0]["QueryResponse"]
    assert [(p["Id"], p.get("status")) for p in purchases["Purchase"]] == [
        ("2", None), ("1", "Deleted"),
    ]  # fmt: skip
    assert deposits == {}
    old = qbo_sim.company().clock.stamp(qbo_sim.now() - 31 * 86400)
    assert fault(api.get("cdc", entities="Purchase", changedSince=old))["code"] == "6000"


def test_minorversion_75_is_served_and_newer_ones_refused(qbo_sim):
    api = Api(qbo_sim)
    assert api.get("preferences", minorversion="40").status_code == 200
    refused = api.get("preferences", minorversion="76")
    assert (refused.status_code, fault(refused)["code"]) == (400, "2010")


def test_the_per_company_limits_answer_429(qbo_sim):
    api = Api(qbo_sim)
    qbo_sim.limits_set(minute=2)
    assert [api.get("preferences").status_code for _ in range(3)] == [200, 200, 429]
    throttled = api.get("preferences")
    assert throttled.json()["Fault"]["type"] == "SERVICE"
    assert fault(throttled)["code"] == "3001"
    assert "Retry-After" not in throttled.headers
    qbo_sim.limits_set(minute=1, retry_after=9)
    api.get("preferences")
    assert api.get("preferences").headers["Retry-After"] == "9"
    qbo_sim.advance(61)
    assert api.get("preferences").status_code == 200
    qbo_sim.limits_set(enabled=False, minute=0)
    assert api.get("preferences").status_code == 200


def test_attachments_upload_and_download_through_a_temporary_link(qbo_sim):
    api = Api(qbo_sim)
    api.post("purchase", purchase())
    metadata = ('{"AttachableRef": [{"EntityRef": {"type": "Purchase", "value": "1"}}], '
                '"FileName": "statement.pdf", "ContentType": "application/pdf"}')  # fmt: skip
    response = httpx.post(
        f"{api.base}/upload",
        headers=api.headers(),
        files={
            "file_metadata_01": ("attachment.json", metadata.encode(), "application/json"),
            "file_content_01": ("statement.pdf", b"%PDF-1.7 body", "application/pdf"),
        },
    )
    assert response.status_code == 200, response.text
    attachable = response.json()["AttachableResponse"][0]["Attachable"]
    assert (attachable["Size"], attachable["AttachableRef"][0]["EntityRef"]["type"]) == (
        13, "Purchase",
    )  # fmt: skip
    link = api.get(f"download/{attachable['Id']}").text
    assert httpx.get(link).content == b"%PDF-1.7 body"
    qbo_sim.advance(16 * 60)
    assert httpx.get(link).status_code == 403


def test_the_controls_steer_it_from_another_process(qbo_sim):
    api = Api(qbo_sim)
    control = f"{qbo_sim.url}/_sim"
    assert httpx.post(f"{control}/limits", json={"minute": 1}).status_code == 200
    api.get("preferences")
    assert api.get("preferences").status_code == 429
    httpx.post(f"{control}/limits", json={"enabled": False})
    httpx.post(f"{control}/lost", json={"lost_rate": 1.0})
    assert api.post("purchase", purchase(), requestid="r").status_code == 502
    httpx.post(f"{control}/lost", json={})
    state = httpx.get(f"{control}/state").json()
    assert state["lost_replies"] == 1
    assert state["companies"][api.tokens["realmId"]]["Purchase"] == 1
    uk = qbo_sim.realm_ids[1]
    off = httpx.post(f"{control}/multicurrency", json={"realm_id": uk, "enabled": False})
    assert off.status_code == 400  # once on, never off; and it is off here anyway
    httpx.post(f"{control}/multicurrency", json={"realm_id": uk})
    assert httpx.get(f"{control}/state").json()["companies"][uk]["multicurrency"] is True
    api.post("purchase", {"Bogus": 1})
    assert [v["path"] for v in httpx.get(f"{control}/violations").json()] == ["Purchase.Bogus"]
    qbo_sim.violations.clear()


def test_the_registry_builds_it_and_a_snapshot_keeps_its_books(tmp_path):
    sim = build("quickbooks", seed=3)
    assert isinstance(sim, QuickBooksSimulator)
    assert not sim.auto_consent
    path = tmp_path / "quickbooks.pickle"
    sim.persist_to(path)
    restored = snapshot_load(path)
    assert restored is not None
    assert restored.realm_ids == sim.realm_ids
    assert restored.company().table("Account").keys() == sim.company().table("Account").keys()


def test_the_consent_page_lets_the_owner_choose_a_company():
    sim = QuickBooksSimulator(seed_value=2).start()
    try:
        page = httpx.get(
            f"{sim.url}/connect/oauth2",
            params={"client_id": seed.DEMO_CLIENT_ID, "response_type": "code", "state": "s",
                    "scope": "com.intuit.quickbooks.accounting", "redirect_uri": REDIRECT_URI},
        )  # fmt: skip
        assert "Acme Design Ltd" in page.text
        ticket = page.text.split('name="ticket" value="')[1].split('"')[0]
        chosen = httpx.post(
            f"{sim.url}/connect/oauth2",
            data={"ticket": ticket, "consent": "allow", "realm_id": sim.realm_ids[1]},
        )
        assert parse_qs(urlsplit(chosen.headers["Location"]).query)["realmId"] == [sim.realm_ids[1]]
    finally:
        sim.stop()
