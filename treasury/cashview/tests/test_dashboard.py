"""The dashboard through HTTP: choices in the URL, htmx regions, the charts and the FX
split, the guided first page, what each role sees, and a query count that does not grow
with the history."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line
from ledger.models import BooksConnection, Organisation
from treasury.cashview.tests.data import ACCOUNTS, accounts_make, history_bulk
from treasury.cashview.tests.pages import by_class, page_read
from treasury.cashview.tests.test_numbers import rates_store
from treasury.fx.tests.factories import ecb

pytestmark = pytest.mark.django_db

# Queries of one dashboard render: session and user (2); cash accounts with their balance
# before the window, the window's daily rows, its reported balances, the rate book (4);
# the status panel's own
# providers: sync runs grouped, running jobs, held currencies, today's rates, the
# worker's heartbeat (5). Providers other apps register add theirs: reconciliation's
# open mismatches and proved-to days, FBAR's stored monitor state (3), the archive's
# completeness (accounts, statements with their proofs: 2).
DASHBOARD_QUERIES = 2 + 4 + 5 + 3 + 2


@pytest.fixture
def eur_account():
    """1,000 EUR on 2025-01-06, -50 on 2025-04-10, +100 on 2025-05-15; EUR is worth 1.10
    USD until April and 1.20 from May."""
    account = CashAccountFactory(currency="EUR")
    transactions_ingest(
        account=account,
        lines=[
            line("1000.00", day=0, ref="a"),
            line("-50.00", day=94, ref="b"),  # 2025-04-10
            line("100.00", day=129, ref="c"),  # 2025-05-15
        ],
        source="API",
    )
    day = date(2025, 1, 1)
    while day <= date(2025, 6, 30):
        if day.weekday() < 5:
            ecb(day, USD="1.10" if day < date(2025, 5, 1) else "1.20")
        day += timedelta(days=1)
    return account


def test_home_is_the_dashboard(owner_client, eur_account):
    assert reverse("home") == "/"
    response = owner_client.get("/", {"as_of": "2025-06-30"})
    assert response.status_code == 200
    assert response.templates[0].name == "cashview/dashboard.html"
    html = response.content.decode()
    assert "<title>Dashboard · Bulwark</title>" in html
    assert html.count('class="chart-svg"') == 3


def test_choices_live_in_the_url_and_an_htmx_change_swaps_the_region(owner_client, eur_account):
    query = {"base": "EUR", "as_of": "2025-05-20", "policy": "end", "range": "3m"}
    response = owner_client.get("/", query, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="dashboard")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dashboard"')
    assert "<html" not in html
    assert 'id="status"' in html
    assert response["HX-Push-Url"] == ("/?base=EUR&as_of=2025-05-20&policy=end&range=3m&source=ECB")
    page = page_read(response.content)
    assert page.total == Decimal("1050.00")
    # Every control and link keeps the other choices, with href beside hx-get.
    for link in page.tree.xpath('//nav[@aria-label="Chart range"]/a'):
        assert link.get("href") == link.get("hx-get")
        assert "base=EUR&as_of=2025-05-20" in link.get("href")
    form = page.tree.get_element_by_id("controls")
    assert (form.get("hx-push-url"), form.get("action")) == ("true", "/")
    assert form.xpath('.//select[@name="base"]/option[@selected]')[0].get("value") == "EUR"


def test_a_wrong_choice_is_named_and_the_default_shown(owner_client, eur_account, settings):
    settings.BASE_CURRENCY = "USD"
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = owner_client.get("/", {"base": "XQQ", "as_of": future, "range": "9y"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Unknown currency code" in html
    assert "is after today" in html
    assert "Select a valid choice" in html
    page = page_read(response.content)
    assert page.tree.get_element_by_id("dashboard").get("data-base") == "USD"


def test_fx_effect_splits_the_change_into_flows_at_their_rate_and_revaluation(
    owner_client, eur_account
):
    # From 2025-03-30 (1,000 EUR at 1.10 = 1,100 USD) to 2025-06-30 (1,050 EUR at 1.20
    # = 1,260 USD): flows -50 x 1.10 + 100 x 1.20 = 65; rates did the other 95.
    query = {"as_of": "2025-06-30", "base": "USD", "range": "3m", "policy": "then"}
    page = page_read(owner_client.get("/", query).content)
    summary = page.tree.xpath(by_class("cash-fx-summary"))[0]
    assert summary.get("data-change") == "160.00"
    assert summary.get("data-flows") == "65.00"
    assert summary.get("data-revaluation") == "95.00"
    text = page.text(by_class("cash-fx-summary"))
    assert "+65.00 USD from money in and out" in text
    assert "+95.00 USD from exchange rates" in text
    titles = [t.text_content() for t in page.tree.xpath('//*[@id="fx-effect"]//*[name()="title"]')]
    assert "Apr 2025 · Net flows: -55.00" in titles
    assert "May 2025 · Net flows: 120.00" in titles
    assert "May 2025 · FX effect: 95.00" in titles
    assert "converts at that day's own rate" in page.text('//*[@id="fx-footnote"]')


def test_cash_in_and_out_follow_the_rate_date_policy(owner_client, eur_account):
    def bars(policy: str) -> list[str]:
        query = {"as_of": "2025-06-30", "range": "3m", "policy": policy}
        page = page_read(owner_client.get("/", query).content)
        return [
            t.text_content()
            for t in page.tree.xpath('//*[@id="charts"]//*[name()="title"]')
            if "Cash" in t.text_content() and "Apr" in t.text_content()
        ]

    assert "Apr 2025 · Cash out: -55.00" in bars("then")  # at the day's rate, 1.10
    assert "Apr 2025 · Cash out: -60.00" in bars("end")  # at June 30's rate, 1.20


def test_the_total_chart_stacks_currencies_in_the_base(owner_client, eur_account):
    CashAccountFactory(currency="USD")
    response = owner_client.get("/", {"as_of": "2025-06-30", "range": "3m"})
    chart = page_read(response.content).tree.xpath('//*[@id="charts"]//*[name()="svg"]')[0]
    hovers = [t.text_content() for t in chart.xpath('.//*[name()="title"]')]
    assert "2025-06-30 · total 1,260 · EUR 1,260" in hovers  # whole units from 1,000 up
    assert "2025-04-01 · total 1,100 · EUR 1,100" in hovers


def test_accounts_sit_under_their_currency_with_proof_only_when_provided(
    owner_client, eur_account, status_registry
):
    page = page_read(owner_client.get("/", {"as_of": "2025-06-30"}).content)
    rows = page.tree.xpath(by_class("account-row", "tr"))
    assert [r.get("data-native") for r in rows] == ["1050.00"]
    assert "proved" not in page.text(by_class("account-row", "tr"))

    calls = []

    def proved(account_ids):
        calls.append(list(account_ids))
        return {account_ids[0]: date(2025, 5, 31)}

    status_registry.register_proof_provider(proved)
    page = page_read(owner_client.get("/", {"as_of": "2025-06-30"}).content)
    assert "proved to 2025-05-31" in page.text(by_class("account-row", "tr"))
    assert calls == [[eur_account.pk]]


def test_an_inactive_account_with_nothing_left_is_hidden(owner_client, eur_account):
    CashAccountFactory(currency="GBP", is_active=False, name="Closed GBP")
    html = owner_client.get("/", {"as_of": "2025-06-30"}).content.decode()
    assert "Closed GBP" not in html


def test_the_accountant_sees_the_same_figures_and_no_control_that_changes_data(
    owner_client, accountant_client, eur_account
):
    query = {"as_of": "2025-06-30", "base": "USD"}
    mine = page_read(owner_client.get("/", query).content)
    theirs_response = accountant_client.get("/", query)
    theirs = page_read(theirs_response.content)
    assert (theirs.total, theirs.rows) == (mine.total, mine.rows)
    main = theirs.tree.get_element_by_id("main")
    assert main.xpath('.//form[@method="post"]') == []
    assert main.xpath(".//*[@hx-post or @hx-put or @hx-patch or @hx-delete]") == []
    assert "Read-only access" in theirs_response.content.decode()


def test_exports_are_linked_with_the_current_choices(owner_client, eur_account):
    page = page_read(owner_client.get("/", {"as_of": "2025-06-30", "base": "EUR"}).content)
    links = [a.get("href") for a in page.tree.xpath('//*[@id="exports"]//a')]
    assert (
        "/cash/export/balances/?base=EUR&as_of=2025-06-30&policy=then&range=1y&source=ECB&format=csv"
        in links
    )
    form = page.tree.xpath('//form[@aria-label="Transactions export"]')[0]
    assert form.get("action") == "/cash/export/transactions/"
    assert form.xpath('.//input[@name="start"]')[0].get("value") == "2025-05-01"
    assert form.xpath('.//input[@name="end"]')[0].get("value") == "2025-05-31"


# --- the guided first page --------------------------------------------------------------------


def test_a_fresh_install_gets_the_guided_first_page(owner_client):
    response = owner_client.get("/")
    assert response.templates[0].name == "cashview/first_run.html"
    html = response.content.decode()
    assert "Welcome to Bulwark" in html
    assert 'href="/accounts/import/"' in html  # import a statement
    assert 'href="/books/xero/"' in html  # connect Xero
    assert 'href="/books/xero/#mode"' in html  # choose the mode
    assert 'href="/rates/"' in html  # fetch rates
    assert 'id="status"' in html  # the worker's heartbeat is still shown
    try:
        wise = reverse("accounts:wise_connect")
    except Exception:  # the Wise pages are merged separately
        wise = None
    assert (f'href="{wise}"' in html) if wise else ("Connect Wise</a>" not in html)


def test_the_first_page_shows_what_is_done(owner_client):
    organisation = Organisation.objects.create(tenant_id="t-1", name="Olivia Consulting")
    BooksConnection.objects.create(
        status=BooksConnection.Status.CONNECTED, organisation=organisation
    )
    ecb(date(2025, 6, 2), USD="1.14")
    html = owner_client.get("/").content.decode()
    assert "connected to Olivia Consulting" in html
    assert "Audit only (default)" in html
    assert "up to 2025-06-02" in html
    assert "Fetch rates</a>" not in html


def test_the_accountant_gets_the_first_page_without_actions(accountant_client):
    html = accountant_client.get("/").content.decode()
    assert "the owner takes them" in html
    assert "Import a statement</a>" not in html
    assert "Connect Xero</a>" not in html


# --- a constant number of queries ---------------------------------------------------------------


@pytest.mark.parametrize("lines", [1_000, 100_000])
def test_query_count_is_the_same_whatever_the_length_of_the_history(
    owner_client, django_assert_num_queries, lines
):
    today = timezone.localdate()
    start = today - timedelta(days=3 * 365)
    accounts = accounts_make(ACCOUNTS)
    history_bulk(accounts, lines=lines, start=start, end=today)
    rates_store(start - timedelta(days=10), today)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = owner_client.get("/")
    page = page_read(response.content)
    assert len(page.rows) == 5
    assert page.total > 0
    with django_assert_num_queries(DASHBOARD_QUERIES):
        owner_client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="dashboard")
