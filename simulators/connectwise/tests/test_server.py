"""The ConnectWise simulator speaks ConnectWise's shapes and holds to the contract (plain
httpx, no Bulwark code)."""

import base64
import hashlib
import hmac
import json
from datetime import date
from decimal import Decimal

import httpx
import pytest

from simulators.connectwise import spec
from simulators.connectwise.server import (
    CODEBASE,
    DEMO_CLIENT_ID,
    DEMO_COMPANY_ID,
    DEMO_PRIVATE_KEY,
    DEMO_PUBLIC_KEY,
)
from simulators.registry import build

AUTH = (
    "Basic "
    + base64.b64encode(f"{DEMO_COMPANY_ID}+{DEMO_PUBLIC_KEY}:{DEMO_PRIVATE_KEY}".encode()).decode()
)
HEADERS = {"Authorization": AUTH, "clientId": DEMO_CLIENT_ID}


@pytest.fixture
def api(connectwise_sim):
    with httpx.Client(
        base_url=f"{connectwise_sim.url}/{CODEBASE}apis/3.0", headers=HEADERS, timeout=5
    ) as client:
        yield client


def _open_invoice(sim):
    return next(
        i for i in sim.psa.invoices.values() if i["balance"] > 100 and i["type"] != "CreditMemo"
    )


def test_codebase_discovery_answers_as_a_cloud_tenant(connectwise_sim):
    info = httpx.get(f"{connectwise_sim.url}/login/companyinfo/{DEMO_COMPANY_ID}").json()
    assert info["Codebase"] == CODEBASE
    assert info["CompanyID"] == DEMO_COMPANY_ID
    assert info["IsCloud"] == "True"
    assert httpx.get(f"{connectwise_sim.url}/login/companyinfo/nobody").status_code == 404


def test_every_call_needs_the_keys_and_a_client_id(connectwise_sim):
    url = f"{connectwise_sim.url}/{CODEBASE}apis/3.0/finance/invoices"
    no_client = httpx.get(url, headers={"Authorization": AUTH})
    assert no_client.status_code == 400
    assert "clientId" in no_client.json()["message"]
    assert set(no_client.json()) == {"code", "message", "errors"}
    unknown = httpx.get(url, headers={"Authorization": AUTH, "clientId": "not-registered"})
    assert unknown.status_code == 400
    wrong = base64.b64encode(f"{DEMO_COMPANY_ID}+{DEMO_PUBLIC_KEY}:nope".encode()).decode()
    bad_keys = httpx.get(
        url, headers={"Authorization": f"Basic {wrong}", "clientId": DEMO_CLIENT_ID}
    )
    assert bad_keys.status_code == 401
    routed = f"{connectwise_sim.url}/v4_6_release/apis/3.0/finance/invoices"
    assert httpx.get(routed, headers={"clientId": DEMO_CLIENT_ID}).status_code == 404
    assert httpx.get(routed, headers=HEADERS).status_code == 200


def test_every_seeded_record_holds_to_the_contract(connectwise_sim, api):
    for path in (
        "/company/companies",
        "/company/contacts",
        "/finance/invoices",
        "/time/entries",
        "/expense/entries",
        "/procurement/products",
        "/finance/taxCodes",
        "/finance/billingTerms",
        "/finance/currencies",
    ):
        page = 1
        while True:
            response = api.get(path, params={"pageSize": 1000, "page": page})
            assert response.status_code == 200, (path, response.text[:300])
            if "next" not in response.links:
                break
            page += 1
    invoice = next(iter(connectwise_sim.psa.invoices))
    assert api.get(f"/finance/invoices/{invoice}/payments").status_code == 200
    assert connectwise_sim.violations == []


def test_amounts_are_json_numbers_at_their_real_precision(connectwise_sim, api):
    invoice = _open_invoice(connectwise_sim)
    invoice["total"], invoice["balance"] = Decimal("1250.50"), Decimal("1250.00")
    text = api.get(f"/finance/invoices/{invoice['id']}").text
    assert '"total": 1250.5,' in text
    assert '"balance": 1250.0,' in text
    parsed = json.loads(text, parse_float=Decimal)
    assert parsed["total"] == invoice["total"]
    assert '"downpaymentApplied": 0.0' in text  # a float64 field: `0.0`, not `0.00` or `0`


def test_a_malformed_body_is_refused_as_connectwise_refuses_and_changes_nothing(
    connectwise_sim, api
):
    invoice = _open_invoice(connectwise_sim)
    before = len(connectwise_sim.psa.payments)
    response = api.post(
        f"/finance/invoices/{invoice['id']}/payments",
        json={"amount": "12.50", "paymnetDate": "2025-12-01T00:00:00Z", "appliedBy": "me"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidObject"
    assert body["message"] == "invoicePayment object is invalid"
    problems = {(e["field"], e["code"]) for e in body["errors"]}
    assert problems == {
        ("amount", "InvalidField"),  # a string, not a number
        ("paymnetDate", "InvalidField"),  # not a field of InvoicePayment
        ("appliedBy", "ReadOnlyField"),
    }
    assert all(e["resource"] == "invoicePayment" for e in body["errors"])
    assert len(connectwise_sim.psa.payments) == before
    [violation] = connectwise_sim.violations
    assert violation["direction"] == "request"
    missing = api.post(f"/finance/invoices/{invoice['id']}/payments", json={"type": "Payment"})
    assert [(e["field"], e["code"]) for e in missing.json()["errors"]] == [("amount", "NullValue")]
    connectwise_sim.violations.clear()  # broken on purpose, asserted above


def test_max_lengths_nulls_and_patch_paths_are_checked(connectwise_sim, api):
    invoice = _open_invoice(connectwise_sim)
    too_long = api.patch(
        f"/finance/invoices/{invoice['id']}",
        json=[{"op": "replace", "path": "reference", "value": "R" * 51}],
    )
    assert too_long.status_code == 400
    assert too_long.json()["errors"][0]["code"] == "MaxLengthField"
    nested = api.patch(
        f"/finance/invoices/{invoice['id']}",
        json=[{"op": "replace", "path": "company/identifier", "value": "X"}],
    )
    assert nested.status_code == 400
    read_only = api.patch(
        f"/finance/invoices/{invoice['id']}", json=[{"op": "replace", "path": "total", "value": 1}]
    )
    assert read_only.json()["errors"][0]["code"] == "ReadOnlyField"
    null = api.post(
        "/system/callbacks", json={"url": None, "objectId": 1, "type": "Invoice", "level": "Owner"}
    )
    assert ("url", "NullValue") in {(e["field"], e["code"]) for e in null.json()["errors"]}
    ok = api.patch(
        f"/finance/invoices/{invoice['id']}",
        json=[{"op": "replace", "path": "reference", "value": "PO 7781"}],
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["reference"] == "PO 7781"
    assert len(connectwise_sim.violations) == 4
    connectwise_sim.violations.clear()  # broken on purpose, counted above


def test_an_off_contract_reply_is_caught_before_it_leaves(connectwise_sim, api):
    invoice = _open_invoice(connectwise_sim)
    invoice["bulwarkExtra"] = "not in the contract"
    invoice["payments"] = "12.00"
    response = api.get(f"/finance/invoices/{invoice['id']}")
    assert response.status_code == 500
    [violation] = connectwise_sim.violations
    assert violation["direction"] == "response"
    assert {e["field"] for e in violation["errors"]} == {"bulwarkExtra", "payments"}
    connectwise_sim.violations.clear()  # broken on purpose, asserted above


def test_an_operation_outside_the_contract_is_not_found(connectwise_sim, api):
    assert api.get("/service/tickets").status_code == 404
    assert connectwise_sim.violations[0]["errors"][0]["code"] == "NotFound"
    assert api.post("/finance/invoices", json={"type": "Standard"}).status_code == 400
    connectwise_sim.violations.clear()  # broken on purpose, asserted above


def test_pages_follow_link_headers_and_the_page_size_is_capped(connectwise_sim, api):
    total = len(connectwise_sim.psa.invoices)
    first = api.get("/finance/invoices", params={"pageSize": 100})
    assert set(first.links) == {"next", "last"}
    assert f"page={-(-total // 100)}" in first.links["last"]["url"]
    second = httpx.get(first.links["next"]["url"], headers=HEADERS)
    assert set(second.links) == {"first", "prev", "next", "last"}
    assert [r["id"] for r in second.json()] == sorted(connectwise_sim.psa.invoices)[100:200]
    entries = connectwise_sim.psa.time_entries
    for extra in range(1, 1201 - len(entries)):  # more than a page can hold
        entries[900000 + extra] = {**entries[70001], "id": 900000 + extra}
    capped = api.get("/time/entries", params={"pageSize": 5000})
    assert len(capped.json()) == 1000
    assert 'pageSize=1000&page=2>; rel="next"' in capped.headers["Link"]
    assert len(api.get("/finance/invoices").json()) == 25  # the default page size
    assert api.get("/finance/invoices", params={"page": 99}).json() == []
    assert api.get("/finance/invoices", params={"pageSize": "many"}).status_code == 400


def test_forward_only_pages_by_id_and_always_links_the_next(connectwise_sim, api):
    forward = {"pagination-type": "forward-only"}
    first = api.get("/finance/invoices", params={"pageSize": 50, "page": 3}, headers=forward)
    ids = [r["id"] for r in first.json()]
    assert ids == sorted(connectwise_sim.psa.invoices)[:50]  # `page` is ignored
    following = first.links["next"]["url"]
    assert f"pageId={ids[-1]}" in following
    second = httpx.get(following, headers={**HEADERS, **forward})
    assert [r["id"] for r in second.json()] == sorted(connectwise_sim.psa.invoices)[50:100]
    end = api.get("/finance/invoices", params={"pageId": 99999}, headers=forward)
    assert end.json() == []
    assert "pageId=99999" in end.links["next"]["url"]
    ordered = api.get("/finance/invoices", params={"orderBy": "date desc"}, headers=forward)
    assert ordered.status_code == 400


def test_conditions_nested_fields_dates_lists_and_quoted_strings(connectwise_sim, api):
    psa = connectwise_sim.psa
    harbor = psa.companies[103]
    harbor["name"] = 'Harbor "& Finch" \\ LLP'
    found = api.get(
        "/company/companies", params={"conditions": 'name = "Harbor \\"& Finch\\" \\\\ LLP"'}
    )
    assert [c["id"] for c in found.json()] == [103]
    euro = api.get(
        "/finance/invoices",
        params={
            "conditions": 'currency/currencyCode = "EUR" and (company/id in (109, 110)) '
            "and date >= [2025-06-01T00:00:00Z]",
            "pageSize": 1000,
        },
    )
    expected = [
        i["id"]
        for i in psa.invoices.values()
        if i["currency"]["currencyCode"] == "EUR" and i["date"] >= "2025-06-01"
    ]
    assert sorted(r["id"] for r in euro.json()) == sorted(expected)
    assert expected
    open_ones = api.get(
        "/finance/invoices/count", params={"conditions": 'balance > 0 and type != "CreditMemo"'}
    ).json()["count"]
    assert open_ones == sum(1 for i in psa.invoices.values() if i["balance"] > 0)
    contains = api.get("/company/companies", params={"conditions": 'name contains "pine"'})
    assert [c["identifier"] for c in contains.json()] == ["PebblePine"]
    ordered = api.get("/finance/billingTerms", params={"orderBy": "dueDays desc"}).json()
    assert [t["dueDays"] for t in ordered] == [60, 45, 30, 15, 0]
    bad = api.get("/finance/invoices", params={"conditions": "nosuchfield = 1"})
    assert bad.status_code == 400
    assert api.get("/finance/invoices", params={"conditions": 'date > "2025'}).status_code == 400


def test_incremental_reads_by_last_updated(connectwise_sim, api):
    invoice = _open_invoice(connectwise_sim)
    mark = connectwise_sim.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        api.get("/finance/invoices", params={"conditions": f"_info/lastUpdated >= [{mark}]"}).json()
        == []
    )
    connectwise_sim.invoice_amend(invoice["id"], reference="Amended")
    changed = api.get("/finance/invoices", params={"conditions": f"lastUpdated >= [{mark}]"}).json()
    assert [r["id"] for r in changed] == [invoice["id"]]


def test_a_payment_lowers_the_balance_and_cannot_exceed_it(connectwise_sim, api):
    invoice = _open_invoice(connectwise_sim)
    balance = invoice["balance"]
    posted = api.post(
        f"/finance/invoices/{invoice['id']}/payments",
        json={
            "type": "Payment",
            "amount": 100.25,
            "paymentDate": "2025-12-20T00:00:00Z",
            "source": "Bulwark:r1",
        },
    )
    assert posted.status_code == 201, posted.text
    assert posted.headers["Location"].endswith(f"/payments/{posted.json()['id']}")
    assert json.loads(posted.text, parse_float=Decimal)["invoiceBalance"] == balance - Decimal(
        "100.25"
    )
    assert connectwise_sim.psa.invoices[invoice["id"]]["balance"] == balance - Decimal("100.25")
    too_much = api.post(
        f"/finance/invoices/{invoice['id']}/payments",
        content=f'{{"amount": {balance}, "paymentDate": "2025-12-20T00:00:00Z"}}',
    )
    assert too_much.status_code == 400
    assert too_much.json()["errors"][0]["code"] == "OutOfRange"
    listed = api.get(f"/finance/invoices/{invoice['id']}/payments").json()
    assert [p["source"] for p in listed if p.get("source")] == ["Bulwark:r1"]
    deleted = api.delete(f"/finance/invoices/{invoice['id']}/payments/{posted.json()['id']}")
    assert deleted.status_code == 204
    assert connectwise_sim.psa.invoices[invoice["id"]]["balance"] == balance


def test_the_rate_limit_answers_429_with_retry_after(connectwise_sim, api):
    connectwise_sim.limits_set(per_window=3, window_seconds=60)
    assert all(api.get("/finance/billingTerms").status_code == 200 for _ in range(3))
    limited = api.get("/finance/billingTerms")
    assert limited.status_code == 429
    retry = limited.headers["Retry-After"]
    assert 1 <= int(retry) <= 60
    assert limited.json() == {
        "error": "ConnectWiseAPI",
        "message": f"Too many requests. Please try again in {retry} seconds.",
    }
    connectwise_sim.advance(61)
    assert api.get("/finance/billingTerms").status_code == 200
    assert connectwise_sim.violations == []


def test_callbacks_are_posted_signed_with_the_record_id_and_retried(
    connectwise_sim, api, callback_receiver
):
    registered = api.post(
        "/system/callbacks",
        json={
            "url": f"{callback_receiver.url}/cw?id=",
            "objectId": 1,
            "type": "Invoice",
            "level": "Owner",
            "description": "Bulwark invoices",
        },
    )
    assert registered.status_code == 201, registered.text
    callback_receiver.statuses = [429]  # the first attempt is refused: it is retried
    invoice = connectwise_sim.invoice_add(
        company_id=101,
        lines=[{"description": "Firewall", "quantity": 1, "price": "895.00", "taxable": True}],
    )
    connectwise_sim.callbacks_flush()
    first, second = callback_receiver.wait_for(2)
    assert first["status"] == 429
    assert second["status"] == 200
    payload = second["payload"]
    assert second["path"] == f"/cw?id={invoice['id']}"
    assert (payload["Action"], payload["Type"], payload["ID"]) == (
        "added",
        "invoice",
        invoice["id"],
    )
    assert payload["CallbackObjectRecId"] == registered.json()["id"]
    assert json.loads(payload["Entity"], parse_float=Decimal)["total"] == invoice["total"]
    key = hashlib.sha256(connectwise_sim.callback_secret.encode()).digest()
    expected = base64.b64encode(hmac.new(key, second["body"], hashlib.sha256).digest()).decode()
    assert second["headers"]["x-content-signature"] == expected
    [delivery] = connectwise_sim.callbacks_sent
    assert delivery.attempts == [429, 200]


def test_a_callback_covers_only_its_level_and_can_suppress_its_own_changes(
    connectwise_sim, api, callback_receiver
):
    invoice = _open_invoice(connectwise_sim)
    other = next(
        i
        for i in connectwise_sim.psa.invoices.values()
        if i["company"]["id"] != invoice["company"]["id"] and i["balance"] > 50
    )
    api.post(
        "/system/callbacks",
        json={
            "url": f"{callback_receiver.url}/c?id=",
            "objectId": invoice["company"]["id"],
            "type": "invoice",
            "level": "company",
            "isSelfSuppressedFlag": True,
        },
    )
    connectwise_sim.payment_add(
        other["id"], Decimal("10.00"), date(2025, 12, 30)
    )  # another company
    api.post(
        f"/finance/invoices/{invoice['id']}/payments",
        json={"amount": 10, "paymentDate": "2025-12-30T00:00:00Z"},
    )  # our own change
    connectwise_sim.payment_add(invoice["id"], Decimal("5.00"), date(2025, 12, 30))  # a person's
    connectwise_sim.callbacks_flush()
    [received] = callback_receiver.wait_for(1)
    assert (received["payload"]["ID"], received["payload"]["MemberId"]) == (
        invoice["id"],
        "dbrooks",
    )
    bad_level = api.post(
        "/system/callbacks",
        json={"url": "http://127.0.0.1/x", "objectId": 1, "type": "Invoice", "level": "Board"},
    )
    assert bad_level.status_code == 400


def test_the_year_is_deterministic_and_consistent(connectwise_sim):
    from simulators.connectwise.generator import msp_year

    again, other = msp_year(7, date(2025, 12, 31)), msp_year(8, date(2025, 12, 31))
    psa = connectwise_sim.psa
    assert again.invoices == psa.invoices
    assert again.payments == psa.payments
    assert other.invoices != psa.invoices
    currencies = {i["currency"]["currencyCode"] for i in psa.invoices.values()}
    assert currencies == {"USD", "EUR", "GBP"}
    types = {i["type"] for i in psa.invoices.values()}
    assert types == {"Agreement", "Standard", "Progress", "CreditMemo"}
    for invoice in psa.invoices.values():
        billed = sum(
            (line.get("extendedInvoiceAmount") or line.get("invoiceAmount") or line.get("extPrice"))
            for _, line in psa.lines_of(invoice["id"])
            if line["billableOption"] == "Billable"
        )
        assert invoice["subtotal"] == billed + invoice["agreementAmount"]
        assert invoice["total"] == invoice["subtotal"] + invoice["salesTax"]
        assert invoice["balance"] == invoice["total"] - invoice["payments"] - invoice["credits"]
        assert invoice["date"][:10] <= "2025-12-31"
    reverse_charged = {
        i["company"]["identifier"] for i in psa.invoices.values() if i["taxCode"]["id"] == 6
    }
    assert reverse_charged == {"StudioLumen"}
    paid_in_parts = [
        i
        for i in psa.invoices.values()
        if sum(1 for p in psa.payments.values() if p["invoice"]["id"] == i["id"]) > 1
    ]
    assert paid_in_parts
    assert sum(1 for p in psa.payments.values() if p["type"] == "Credit") == 3
    assert all(p["paymentDate"][:10] <= "2025-12-31" for p in psa.payments.values())


def test_the_registry_builds_the_connectwise_simulator():
    sim = build("connectwise", seed=3)
    assert sim.name == "connectwise"
    assert sim.state()["invoices"] > 100


def test_the_contract_is_read_from_the_extract():
    models, operations = spec.contract()
    invoice = models["Invoice"]
    assert invoice["invoiceNumber"].max_length == 15
    assert invoice["type"].required
    assert invoice["type"].nullable
    assert invoice["company"].kind == "object"
    assert invoice["company"].model == "CompanyReference"
    assert models["InvoicePayment"]["amount"].required  # the supplement
    templates = {(o.method, o.template) for o in operations}
    assert ("POST", "/finance/invoices/{parentId}/payments") in templates
    assert ("GET", "/procurement/products") in templates  # the supplement
    count, _ = spec.operation_for("GET", "/finance/invoices/count")
    assert count is not None
    assert count.shape == "count"


def test_a_snapshot_brings_the_tenant_back(connectwise_sim, tmp_path, api):
    from simulators.persist import snapshot_load

    invoice = _open_invoice(connectwise_sim)
    path = tmp_path / "connectwise.pickle"
    connectwise_sim.persist_to(path)
    api.post(
        f"/finance/invoices/{invoice['id']}/payments",
        json={"amount": 12, "paymentDate": "2025-12-30T00:00:00Z", "source": "Bulwark:s1"},
    )
    reloaded = snapshot_load(path)
    with reloaded:
        assert reloaded.psa.invoices == connectwise_sim.psa.invoices
        listed = httpx.get(
            f"{reloaded.url}/{CODEBASE}apis/3.0/finance/invoices/{invoice['id']}/payments",
            headers=HEADERS,
        ).json()
        assert "Bulwark:s1" in {p.get("source") for p in listed}


def test_sim_controls_script_changes_from_another_process(connectwise_sim, api):
    control = f"{connectwise_sim.url}/_sim"

    def post(action, body=None):
        return json.loads(httpx.post(f"{control}/{action}", json=body).text, parse_float=Decimal)

    line = {"description": "Switch", "quantity": 2, "price": "512.00", "taxable": True}
    added = post("invoice", {"company_id": 107, "date": "2025-12-31", "lines": [line]})
    assert added["total"] == Decimal("1228.8")  # 1,024.00 and 20% VAT
    amended = post("invoice-amend", {"id": added["id"], "reference": "Re-issued"})
    assert amended["reference"] == "Re-issued"
    paid = post("payment", {"invoice_id": added["id"], "amount": "228.80"})
    assert paid["invoiceBalance"] == Decimal("1000.0")
    served = api.get(
        f"/finance/invoices/{added['id']}", params={"fields": "id,balance,company/name"}
    )
    assert served.text == (
        f'{{"id": {added["id"]}, "balance": 1000.0, "company": {{"name": "Pebble & Pine Ltd"}}}}'
    )
    api.post("/finance/invoices/1/payments", json={"amount": "1"})
    assert len(post("violations")) == 1  # a POST reads and clears them
    assert connectwise_sim.violations == []
    post("invoice-delete", {"id": added["id"]})
    assert api.get(f"/finance/invoices/{added['id']}").status_code == 404
