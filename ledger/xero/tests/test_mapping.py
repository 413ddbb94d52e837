"""Mapping cash accounts to Xero bank accounts, and the Xero page for each role."""

import pytest
from django.test import Client

from accounts.tests.factories import CashAccountFactory
from ledger import mapping, services
from ledger.models import BankAccountMapping, Organisation
from ledger.tests.factories import demo_accounts
from ledger.tests.helpers import connected, in_threads, mapped
from ledger.xero.session import client_open
from simulators.xero.fixtures import xero_authorize


@pytest.mark.django_db
def test_mapping_creates_bank_accounts_and_adds_missing_currencies(owner_client, xero_sim):
    books = demo_accounts()
    organisation = connected(owner_client, xero_sim)
    proposals = mapping.proposals(organisation)
    assert all(p.needs_new for p in proposals if p.cash_account.currency != "USD")
    organisation = mapped(owner_client, organisation, books)
    assert set(organisation.currencies) == {"USD", "EUR", "GBP"}
    assert set(xero_sim.org().currencies) == {"USD", "EUR", "GBP"}
    for cash in books.accounts:
        account = BankAccountMapping.objects.get(cash_account=cash).chart_account
        remote = xero_sim.org().accounts[account.account_id]
        assert remote["Type"] == "BANK"
        assert remote["CurrencyCode"] == cash.currency
    assert organisation.fee_account_code == "404"
    clearing = xero_sim.org().account_by_code(organisation.fx_clearing_account_code)
    assert clearing["Type"] == "CURRENT"
    assert "clearing" in clearing["Name"]
    assert mapping.mapping_complete(organisation) == []
    # Read again: the proposals are now the saved choices.
    assert all(p.current == p.suggested for p in mapping.proposals(organisation))


@pytest.mark.django_db
def test_a_bank_account_of_another_currency_is_refused_and_nothing_changes(owner_client, xero_sim):
    books = demo_accounts()
    organisation = connected(owner_client, xero_sim)
    usd_bank = organisation.accounts.get(type="BANK")
    data = {
        f"cash_{books.eur.pk}": usd_bank.account_id,
        f"cash_{books.gbp.pk}": "new",
        "fee": "404",
        "fx_clearing": "610",
        "suspense": "800",
    }
    response = owner_client.post("/books/xero/mapping/", data, follow=True)
    assert "Some choices are not available" in response.content.decode()  # not offered
    with pytest.raises(mapping.MappingError, match="EUR balance holds EUR but Business Bank"):
        services.books_mapping_save(
            organisation=organisation,
            bank={books.eur.pk: usd_bank.account_id, books.gbp.pk: "new"},
            fee="404",
            fx_clearing="610",
            suspense="800",
        )
    assert not BankAccountMapping.objects.exists()
    organisation.refresh_from_db()
    assert organisation.fee_account_code == ""
    assert len(xero_sim.org().accounts) == 21  # nothing created either


@pytest.mark.django_db
def test_an_organisation_without_multicurrency_cannot_take_a_euro_balance(owner_client, xero_sim):
    CashAccountFactory(currency="EUR")
    xero_authorize(owner_client, xero_sim)
    owner_client.post("/books/xero/organisation/", {"tenant_id": xero_sim.tenant_ids[1]})
    organisation = Organisation.objects.get(tenant_id=xero_sim.tenant_ids[1])
    assert organisation.multicurrency_allowed is False
    (proposal,) = mapping.proposals(organisation)
    assert "needs a multi-currency plan" in proposal.blocked
    page = owner_client.get("/books/xero/")
    assert b"needs a multi-currency plan" in page.content


@pytest.mark.django_db
def test_the_page_shows_audit_only_by_default_and_hides_controls_from_the_accountant(
    owner_client, accountant_client, xero_sim
):
    demo_accounts()
    connected(owner_client, xero_sim, posts=False)
    owner_page = owner_client.get("/books/xero/").content.decode()
    assert "Audit only" in owner_page
    assert "Nothing is ever written to Xero" in owner_page
    assert "Save mapping" in owner_page
    assert "Disconnect" in owner_page
    page = accountant_client.get("/books/xero/").content.decode()
    assert "Audit only" in page
    assert "Demo Company (US)" in page
    for control in ("Save mapping", "Disconnect", "Save mode", "Read back now", "<select"):
        assert control not in page


@pytest.mark.django_db
def test_choosing_bulwark_posts_needs_the_native_feed_confirmation(owner_client, xero_sim):
    organisation = connected(owner_client, xero_sim, posts=False)
    response = owner_client.post("/books/xero/mode/", {"mode": "POSTS"}, follow=True)
    assert "nothing is booked twice" in response.content.decode()
    organisation.refresh_from_db()
    assert organisation.mode == "AUDIT_ONLY"
    owner_client.post("/books/xero/mode/", {"mode": "POSTS", "confirm_no_native_feed": "on"})
    organisation.refresh_from_db()
    assert organisation.mode == "POSTS"
    assert organisation.mode_chosen_by is not None


@pytest.mark.django_db
def test_the_page_before_connecting_explains_what_to_do(owner_client, settings):
    settings.XERO_CLIENT_ID = ""
    page = owner_client.get("/books/xero/").content.decode()
    assert "XERO_CLIENT_ID" in page
    response = owner_client.post("/books/xero/connect/", follow=True)
    assert "Set XERO_CLIENT_ID and XERO_CLIENT_SECRET" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_never_more_than_five_calls_in_flight_per_organisation(owner, xero_sim):
    client = Client()
    client.force_login(owner)
    organisation = connected(client, xero_sim, posts=False)
    xero_sim.latency = 0.15

    def currencies() -> list[str]:
        with client_open(organisation) as api:
            return api.currencies()

    _results, errors = in_threads(currencies, 15)
    assert errors == []
    assert xero_sim.max_in_flight == 5  # the cap was reached, never passed
    assert xero_sim.rate_limited == 0


@pytest.mark.django_db
def test_the_posting_region_renders_alone_for_htmx_in_constant_queries(owner_client, xero_sim):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger import services
    from ledger.models import Posting
    from ledger.rules.models import Categorization
    from ledger.tests.factories import wise_year

    books = wise_year(n=60)
    organisation = mapped(owner_client, connected(owner_client, xero_sim), books)
    lines = [t for t in books.lines() if t.wise_type == "CARD"]
    for txn in lines[:3]:
        Categorization.objects.create(transaction=txn, account_code="999")
    services.books_push(organisation_id=organisation.pk)
    services.books_pull(organisation_id=organisation.pk)
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "posting"}
    with CaptureQueriesContext(connection) as few:
        region = owner_client.get("/books/xero/", **headers)
    content = region.content.decode()
    assert content.lstrip().startswith('<section class="card" id="posting"')
    assert "<html" not in content
    assert content.count("is not a valid code") == 3

    Posting.objects.filter(transaction__in=lines[3:13]).update(state="ERROR", errors=["No."])
    with CaptureQueriesContext(connection) as many:
        owner_client.get("/books/xero/", **headers)
    assert len(many.captured_queries) == len(few.captured_queries)
