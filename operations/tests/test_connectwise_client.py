"""The ConnectWise client against the simulator, over real HTTP."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from operations.connectwise import client as cw
from operations.connectwise.client import (
    AuthenticationFailed,
    ConnectWiseClient,
    RateLimited,
    ValidationFailed,
    api_root,
    company_info_fetch,
)
from simulators.connectwise.server import (
    DEMO_CLIENT_ID,
    DEMO_COMPANY_ID,
    DEMO_PRIVATE_KEY,
    DEMO_PUBLIC_KEY,
)


def _client(sim, **options):
    options.setdefault("timeout", 5.0)
    options.setdefault("sleep", lambda seconds: None)
    return ConnectWiseClient.connect(
        site_url=sim.url,
        company_id=options.pop("company_id", DEMO_COMPANY_ID),
        public_key=options.pop("public_key", DEMO_PUBLIC_KEY),
        private_key=options.pop("private_key", DEMO_PRIVATE_KEY),
        client_id=options.pop("client_id", DEMO_CLIENT_ID),
        **options,
    )


@pytest.fixture
def client(connectwise_sim):
    with _client(connectwise_sim) as connected:
        yield connected


def _open_invoices(sim, count):
    rows = [i for i in sim.psa.invoices.values() if i["balance"] > 50 and i["type"] != "CreditMemo"]
    return rows[:count]


def test_the_codebase_is_discovered_and_the_cloud_host_gets_its_api_prefix(connectwise_sim):
    info = company_info_fetch(site_url=connectwise_sim.url, company_id=DEMO_COMPANY_ID, timeout=5)
    assert (info.codebase, info.version_code, info.is_cloud) == ("v2025_1/", "v2025.1", True)
    assert api_root(connectwise_sim.url, info.codebase) == f"{connectwise_sim.url}/v2025_1/apis/3.0"
    assert (
        api_root("https://na.myconnectwise.net", "v2025_1/")
        == "https://api-na.myconnectwise.net/v2025_1/apis/3.0"
    )
    assert (
        api_root("https://psa.example.com", "v4_6_release/")
        == "https://psa.example.com/v4_6_release/apis/3.0"
    )


def test_without_a_client_id_or_with_wrong_keys_it_is_refused(connectwise_sim):
    anonymous = _client(connectwise_sim, client_id="")
    with anonymous, pytest.raises(AuthenticationFailed, match="clientId"):
        anonymous.tax_codes()
    wrong = _client(connectwise_sim, private_key="wrong")
    with wrong, pytest.raises(AuthenticationFailed, match="public/private key"):
        wrong.tax_codes()


def test_setup_tables_companies_and_contacts(connectwise_sim, client):
    codes = {t.identifier: t for t in client.tax_codes()}
    assert codes["NYC"].rate == Decimal("8.875")
    assert codes["NYC"].products
    assert not codes["NYC"].services
    assert codes["EURC"].rate == 0
    terms = {t.name: t for t in client.billing_terms()}
    assert terms["Net 30"].default
    assert terms["Net 45"].due_days == 45
    assert {c.code for c in client.currencies()} == {"USD", "EUR", "GBP"}
    companies = {c.identifier: c for c in client.companies()}
    pebble = companies["PebblePine"]
    assert (pebble.currency, pebble.country, pebble.tax_code_id) == ("GBP", "United Kingdom", 4)
    assert pebble.updated_at.tzinfo is UTC
    contacts = client.contacts(company_id=pebble.id)
    billing = next(c for c in contacts if c.default_billing)
    assert billing.id == pebble.billing_contact_id
    assert billing.email == "olivia.hughes@pebblepine.example"


def test_invoices_are_read_across_several_link_pages(connectwise_sim, client, monkeypatch):
    monkeypatch.setattr(cw, "PAGE_SIZE", 40)
    invoices = client.invoices()
    assert [i.id for i in invoices] == sorted(connectwise_sim.psa.invoices)
    pages = connectwise_sim.requests_to("GET", r"/finance/invoices$")
    assert len(pages) == -(-len(invoices) // 40) > 3
    assert all(r.headers["pagination-type"] == "forward-only" for r in pages)
    after = [int(r.query["pageId"][0]) for r in pages[1:]]  # each page: the Link's next pageId
    assert after == [invoices[40 * n - 1].id for n in range(1, len(pages))]
    eur = next(i for i in invoices if i.currency == "EUR" and i.sales_tax)
    source = connectwise_sim.psa.invoices[eur.id]
    assert (eur.total, eur.sales_tax, eur.balance) == (
        source["total"],
        source["salesTax"],
        source["balance"],
    )
    assert isinstance(eur.total, Decimal)
    assert eur.date.isoformat() == source["date"][:10]


def test_a_record_deleted_between_pages_hides_no_other(connectwise_sim, client, monkeypatch):
    monkeypatch.setattr(cw, "PAGE_SIZE", 40)
    original = cw.ConnectWiseClient.request
    deleted = []

    def request(self, method, path, **options):
        response = original(self, method, path, **options)
        if not deleted and "/finance/invoices" in path:
            deleted.append(min(connectwise_sim.psa.invoices))
            connectwise_sim.invoice_delete(deleted[0])  # someone deletes one of page 1
        return response

    monkeypatch.setattr(cw.ConnectWiseClient, "request", request)
    read = {i.id for i in client.invoices()}
    assert read == set(connectwise_sim.psa.invoices) | set(deleted)


def test_incremental_reads_bring_only_what_changed(connectwise_sim, client):
    since = datetime.now(UTC).replace(microsecond=0)
    assert client.invoices(since=since) == []
    [first, second] = _open_invoices(connectwise_sim, 2)
    connectwise_sim.invoice_amend(first["id"], reference="PO 9911")
    connectwise_sim.payment_add(second["id"], Decimal("50.00"))
    changed = client.invoices(since=since)
    assert {i.id for i in changed} == {first["id"], second["id"]}
    assert next(i for i in changed if i.id == first["id"]).reference == "PO 9911"
    assert client.invoices(ids=[first["id"]])[0].id == first["id"]
    single = client.invoice(second["id"])
    assert single.balance == connectwise_sim.psa.invoices[second["id"]]["balance"]
    assert client.company(single.company.id).name == single.company.name
    latest = max(client.payments(second["id"]), key=lambda p: p.id)
    assert (latest.amount, latest.applied_by, latest.type) == (
        Decimal("50.00"),
        "dbrooks",
        "Payment",
    )


def test_invoice_lines_add_up_to_each_invoice_s_subtotal(connectwise_sim, client):
    invoices = client.invoices()
    lines = client.invoice_lines(invoices)
    for invoice in invoices:
        billed = sum(
            line.amount for line in lines[invoice.id] if line.billable_option == "Billable"
        )
        assert billed == invoice.subtotal, invoice.number
    kinds = {line.kind for group in lines.values() for line in group}
    assert kinds == {"time", "expense", "product", "agreement"}
    # Read 50 invoices per condition: three list calls (time, expenses, products) per 50.
    per_kind = connectwise_sim.requests_to("GET", r"/time/entries$")
    assert len(per_kind) == -(-len(invoices) // 50)
    memo = next(i for i in invoices if i.type == "CreditMemo")
    [credit] = lines[memo.id]
    assert credit.kind == "product"
    assert credit.amount < 0
    assert credit.item == "SVC-CREDIT"


def test_conditions_escape_what_a_person_typed(connectwise_sim, client):
    connectwise_sim.psa.companies[105]["identifier"] = 'Cedar "Ridge" \\ NY'
    [found] = client.companies(identifier='Cedar "Ridge" \\ NY')
    assert found.id == 105
    assert client.companies(identifier="Cedar") == []
    with pytest.raises(ValueError, match="wildcard"):
        client.companies(identifier="Cedar*")
    assert connectwise_sim.violations == []


def test_a_payment_is_recorded_once_even_when_replies_are_cut(connectwise_sim, monkeypatch):
    """30% of the calls fail: half cut before ConnectWise does anything, half answered
    after it did, too late for the client. Every payment lands once, twice run."""
    invoices = _open_invoices(connectwise_sim, 8)
    connectwise_sim.set_faults(cut_rate=0.15, paths="/apis/3.0/")
    connectwise_sim.set_late_faults(0.15, seconds=0.4, paths="/apis/3.0/")
    with _client(connectwise_sim, timeout=0.2, attempts=10) as client:
        for run in (1, 2):
            for index, invoice in enumerate(invoices):
                result = client.payment_create(
                    invoice_id=invoice["id"],
                    amount=Decimal("20.05"),
                    paid_on=date(2025, 12, 30),
                    reference=f"wise-{index}",
                )
                assert result.payment.amount == Decimal("20.05")
                assert result.payment.source == f"Bulwark:wise-{index}"
                if run == 2:
                    assert not result.created
    connectwise_sim.set_faults()
    connectwise_sim.set_late_faults(0)
    cut = sum(1 for r in connectwise_sim.requests if r.fault == "cut")
    assert cut > 4
    assert connectwise_sim.late_answers > 4
    for index, invoice in enumerate(invoices):
        mine = [
            p
            for p in connectwise_sim.payments_of(invoice["id"])
            if p.get("source") == f"Bulwark:wise-{index}"
        ]
        assert len(mine) == 1, (index, mine)
    assert connectwise_sim.violations == []


def test_a_payment_is_refused_when_it_cannot_be_exact(connectwise_sim, client):
    [invoice] = _open_invoices(connectwise_sim, 1)
    with pytest.raises(ValueError, match="cents"):
        client.payment_create(
            invoice_id=invoice["id"],
            amount=Decimal("1.005"),
            paid_on=date(2025, 12, 30),
            reference="r1",
        )
    with pytest.raises(ValueError, match="reference"):
        client.payment_create(
            invoice_id=invoice["id"],
            amount=Decimal("1.00"),
            paid_on=date(2025, 12, 30),
            reference="has space",
        )
    with pytest.raises(ValidationFailed) as refused:
        client.payment_create(
            invoice_id=invoice["id"],
            amount=invoice["balance"] + 1,
            paid_on=date(2025, 12, 30),
            reference="too-much",
        )
    assert [(e.field, e.code) for e in refused.value.errors] == [("amount", "OutOfRange")]
    assert connectwise_sim.payments_of(invoice["id"]) == [
        p
        for p in connectwise_sim.payments_of(invoice["id"])
        if p.get("source") != "Bulwark:too-much"
    ]


def test_the_simulator_refuses_a_malformed_body_the_client_sends(connectwise_sim, client):
    [invoice] = _open_invoices(connectwise_sim, 1)
    with pytest.raises(ValidationFailed) as refused:
        client.request(
            "POST",
            f"/finance/invoices/{invoice['id']}/payments",
            body={"amount": "12.00", "reference": "x", "paymentDate": "2025-12-30"},
        )
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("amount", "InvalidField"),
        ("reference", "InvalidField"),
        ("paymentDate", "InvalidField"),
    }
    assert connectwise_sim.violations[0]["direction"] == "request"
    assert connectwise_sim.payments_of(invoice["id"]) == [
        p for p in connectwise_sim.payments_of(invoice["id"]) if p["appliedBy"] != "bulwark-api"
    ]
    connectwise_sim.violations.clear()  # broken on purpose, asserted above


def test_a_429_is_waited_out_for_its_retry_after(connectwise_sim):
    waited = []

    def sleep(seconds):
        waited.append(seconds)
        connectwise_sim.advance(seconds)

    connectwise_sim.limits_set(per_window=2, window_seconds=30)
    with _client(connectwise_sim, sleep=sleep) as client:
        for _ in range(3):
            assert len(client.billing_terms()) == 5
    assert connectwise_sim.rate_limited == 1
    assert len(waited) == 1
    assert 29 <= waited[0] <= 31
    connectwise_sim.limits_set(per_window=2, window_seconds=30)  # a fresh window
    with _client(connectwise_sim, sleep=sleep, max_wait_seconds=5) as impatient:
        impatient.billing_terms()
        impatient.billing_terms()
        with pytest.raises(RateLimited):
            impatient.billing_terms()


def test_callbacks_register_once_and_announce_changes(connectwise_sim, client, callback_receiver):
    url = f"{callback_receiver.url}/operations/connectwise/callback/?id="
    registered = client.callback_register(
        url=url, type_="Invoice", level="Owner", description="Bulwark: invoices"
    )
    again = client.callback_register(url=url, type_="invoice", level="owner")
    assert again.id == registered.id
    assert len(client.callbacks()) == 1
    [invoice] = _open_invoices(connectwise_sim, 1)
    connectwise_sim.invoice_amend(
        invoice["id"],
        add_lines=[
            {"description": "Extra dock", "quantity": 1, "price": "289.00", "taxable": True}
        ],
    )
    client.payment_create(
        invoice_id=invoice["id"],
        amount=Decimal("10.00"),
        paid_on=date(2025, 12, 31),
        reference="cb-1",
    )
    connectwise_sim.callbacks_flush()
    received = callback_receiver.wait_for(2)
    assert [(r["payload"]["Action"], r["payload"]["ID"]) for r in received] == [
        ("updated", invoice["id"]),
        ("updated", invoice["id"]),
    ]
    assert received[0]["path"] == f"/operations/connectwise/callback/?id={invoice['id']}"
    assert client.callback_delete(registered.id) is True
    assert client.callback_delete(registered.id) is False
    assert client.callbacks() == []


def test_an_invoice_patch_replaces_fields_and_references(connectwise_sim, client):
    [invoice] = _open_invoices(connectwise_sim, 1)
    patched = client.invoice_patch(
        invoice["id"], {"customerPO": "PO-55", "billingTerms": {"id": 3}}
    )
    assert patched.customer_po == "PO-55"
    assert patched.billing_terms_id == 3
    assert connectwise_sim.psa.invoices[invoice["id"]]["billingTerms"] == {
        "id": 3,
        "name": "Net 45",
    }
    with pytest.raises(ValidationFailed):
        client.invoice_patch(invoice["id"], {"billingTerms": {"id": 99}})
