"""Bookings checked against the connected organisation's chart, through the pages, with
the chart read from the Xero simulator over HTTP: rules and hand edits refuse a code,
tax type or tracking option Xero does not have (naming the valid ones) and offer a lookup;
lines booked with a code that has since gone are listed; and the mapping creates nothing
in Xero unless the owner picked "create" for that row, under a name Xero does not hold."""

import re

import pytest

from accounts.models import CashAccount, Institution
from ledger.models import BankAccountMapping
from ledger.rules.models import Action, Categorization, Rule
from ledger.rules.tests.factories import act, cond, rule_make
from ledger.tests.factories import demo_accounts, wise_year
from ledger.tests.helpers import connected

pytestmark = pytest.mark.django_db


def rule_data(**action: str) -> dict[str, str]:
    data = {
        "name": "Software", "match": "ALL", "is_active": "on", "apply": "0",
        "conditions-TOTAL_FORMS": "1", "conditions-INITIAL_FORMS": "0",
        "conditions-0-field": "DESCRIPTION", "conditions-0-operator": "CONTAINS",
        "conditions-0-value": "figma",
        "actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "0",
    }  # fmt: skip
    data.update({f"actions-0-{key}": value for key, value in action.items()})
    return data


def test_a_rule_with_a_code_xero_does_not_have_is_refused_with_the_choices(owner_client, xero_sim):
    connected(owner_client, xero_sim)
    page = owner_client.get("/rules/new/").content.decode()
    assert re.search(r'<select name="actions-0-account"[^>]*>', page)  # a lookup
    assert '<option value="485">485 · Subscriptions</option>' in page

    refused = owner_client.post("/rules/new/", rule_data(kind="ACCOUNT_CODE", account="99999x"))
    text = refused.content.decode()
    assert refused.status_code == 200
    assert "has no account 99999x" in text
    assert "Choose one of: 200 · Sales, 260 · Other Revenue" in text
    assert not Rule.objects.filter(name="Software").exists()

    for action, problem in (
        ({"kind": "TAX_TYPE", "tax": "GST"}, "has no tax type GST"),
        ({"kind": "TRACKING", "category": "Region", "choice": "Mars"}, "has no option “Mars”"),
        ({"kind": "TRACKING", "category": "Colour", "choice": "Red"}, "no tracking category"),
    ):
        assert problem in owner_client.post("/rules/new/", rule_data(**action)).content.decode()
    assert not Rule.objects.filter(name="Software").exists()

    saved = owner_client.post("/rules/new/", rule_data(kind="TRACKING", category="Region",
                                                       choice="Europe"))  # fmt: skip
    assert saved.status_code == 302
    action = Action.objects.get(rule__name="Software")
    assert (action.kind, action.value, action.option) == ("TRACKING", "Region", "Europe")


def test_a_hand_edit_is_refused_off_the_chart_and_chooses_from_it(owner_client, xero_sim):
    books = wise_year(n=8, books=demo_accounts())
    connected(owner_client, xero_sim)
    line = books.lines()[0]
    page = owner_client.get(f"/rules/lines/{line.pk}/").content.decode()
    assert re.search(r'<select name="account_code"', page)
    assert re.search(r'<select name="tax_type"', page)
    data = {"treatment": "NORMAL", "account_code": "99999x", "tax_type": "NONE",
            "tracking": "Region: Europe"}  # fmt: skip
    refused = owner_client.post(f"/rules/lines/{line.pk}/", data).content.decode()
    assert "has no account 99999x" in refused
    assert not Categorization.objects.filter(transaction=line, account_code="99999x").exists()
    assert (
        "has no option “Moon”"
        in owner_client.post(
            f"/rules/lines/{line.pk}/", {**data, "account_code": "485", "tracking": "Region: Moon"}
        ).content.decode()
    )
    saved = owner_client.post(f"/rules/lines/{line.pk}/", {**data, "account_code": "485"})
    assert saved.status_code == 302
    assert Categorization.objects.get(transaction=line).account_code == "485"


def test_lines_booked_with_a_code_that_left_the_chart_need_attention(owner_client, xero_sim):
    books = wise_year(n=12, books=demo_accounts())
    organisation = connected(owner_client, xero_sim)
    rule_make(
        "Software",
        conditions=[cond("DESCRIPTION", "Test line")],
        actions=[act("ACCOUNT_CODE", "485")],
    )
    for line in books.lines():
        Categorization.objects.update_or_create(
            transaction=line, defaults={"account_code": "485", "treatment": "NORMAL"}
        )
    assert 'id="off-chart"' not in owner_client.get("/rules/uncategorized/").content.decode()

    subscriptions = xero_sim.org().account_by_code("485")
    subscriptions["Status"] = "ARCHIVED"  # someone archives it in Xero
    owner_client.post("/books/xero/settings/")  # "Read settings and accounts again"
    organisation.refresh_from_db()

    queue = owner_client.get("/rules/uncategorized/").content.decode()
    row = re.search(r'<tr data-off-chart="485">(.*?)</tr>', queue, re.S).group(1)
    assert f">{len(books.lines())}<" in row
    assert "Subscriptions, deleted or archived in Xero" in row
    assert "Software" in row
    assert 'id="off-chart-alert"' in owner_client.get("/rules/").content.decode()


def form_as_rendered(response) -> dict[str, str]:
    """What "Save mapping" sends when the owner changes nothing: each field's default."""
    form = response.context["mapping_form"]
    return {name: form[name].value() or "" for name in form.fields if name != "post_from"}


def test_save_mapping_as_offered_creates_nothing_in_xero(owner_client, xero_sim):
    books = demo_accounts()
    bank = Institution.objects.create(name="Deutsche Kreditbank AG", kind=Institution.Kind.BANK)
    dkb = CashAccount.objects.create(institution=bank, name="DKB Girokonto", currency="EUR")
    organisation = connected(owner_client, xero_sim)
    before, writes = len(xero_sim.org().accounts), xero_sim.writes
    page = owner_client.get("/books/xero/")
    text = page.content.decode()
    assert "Create “DKB Girokonto (EUR)” in Xero" in text
    assert "Wise DKB Girokonto" not in text
    assert f'name="cash_{dkb.pk}"' in text

    assert owner_client.post("/books/xero/mapping/", form_as_rendered(page)).status_code == 302
    assert (len(xero_sim.org().accounts), xero_sim.writes) == (before, writes)
    # Only what already existed was mapped: the USD balance to the USD bank account.
    assert [m.cash_account for m in BankAccountMapping.objects.all()] == [books.usd]

    # Picked for one row only: that row, and nothing else, is created, as it was labelled.
    chosen = {**form_as_rendered(page), f"cash_{books.eur.pk}": "new", "fee": "404"}
    owner_client.post("/books/xero/mapping/", chosen)
    created = BankAccountMapping.objects.get(cash_account=books.eur).chart_account
    assert (created.name, len(xero_sim.org().accounts)) == ("Wise EUR", before + 1)
    assert BankAccountMapping.objects.count() == 2
    organisation.refresh_from_db()
    assert organisation.fx_clearing_account_code == organisation.suspense_account_code == ""


def test_the_name_offered_is_free_in_the_organisation(owner_client, xero_sim):
    books = demo_accounts()
    connected(owner_client, xero_sim)
    xero_sim.org().account_add(
        {"Name": "Wise EUR", "Type": "BANK", "CurrencyCode": "USD", "BankAccountNumber": "1"},
        0,
    )
    owner_client.post("/books/xero/settings/")
    page = owner_client.get("/books/xero/")
    assert "Create “Wise EUR #2” in Xero" in page.content.decode()
    chosen = {**form_as_rendered(page), f"cash_{books.eur.pk}": "new", "fee": "404"}
    owner_client.post("/books/xero/mapping/", chosen)
    assert (
        BankAccountMapping.objects.get(cash_account=books.eur).chart_account.name == "Wise EUR #2"
    )
