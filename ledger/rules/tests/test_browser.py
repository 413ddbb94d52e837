"""In a real browser: make a rule from an uncategorized line, watch the live preview
count, save and apply it, and see the lines categorized."""

import pytest

from conftest import browser_login
from ledger.rules.models import Categorization
from ledger.rules.tests.factories import lines_store


@pytest.fixture
def eager_tasks():
    """No worker in these tests: a queued run executes when its transaction commits."""
    from treasury.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rule_from_an_uncategorized_line(page, live_server, owner, eager_tasks):
    from playwright.sync_api import expect

    from accounts.tests.factories import CashAccountFactory

    account = CashAccountFactory(currency="EUR")
    figma = lines_store(
        account,
        {
            "amount": "-12.00",
            "description": "Figma monthly 12.00",
            "counterparty": "Figma",
            "wise_type": "CARD",
        },
        {
            "amount": "-15.00",
            "description": "Figma monthly 15.00",
            "counterparty": "Figma",
            "wise_type": "CARD",
        },
        {"amount": "-4.00", "description": "Coffee", "counterparty": "Cafe", "wise_type": "CARD"},
    )
    browser_login(page, live_server, "olivia")
    page.goto(f"{live_server.url}/rules/uncategorized/")
    expect(page.locator("[data-make-rule]")).to_have_count(3)
    page.click(f"[data-make-rule='{figma[0].pk}']")

    expect(page.locator("#id_conditions-0-value")).to_have_value("Figma")
    page.select_option("#id_actions-0-kind", "ACCOUNT_CODE")
    page.fill("#id_actions-0-value", "485")
    expect(page.locator("#preview-count")).to_have_text("2")
    expect(page.locator("#preview")).to_contain_text("485")

    page.click("button[name=apply][value='1']")
    page.wait_for_url(f"{live_server.url}/rules/")
    expect(page.locator(".messages")).to_contain_text("Saved rule “Figma”")
    expect(page.locator("#run-figures")).to_contain_text("2 lines changed")

    page.goto(f"{live_server.url}/rules/uncategorized/")
    expect(page.locator("[data-make-rule]")).to_have_count(1)
    page.goto(f"{live_server.url}/rules/lines/{figma[1].pk}/")
    expect(page.locator("#booking tr[data-field=account_code]")).to_contain_text("485")
    expect(page.locator("#history")).to_contain_text("rule “Figma”")
    assert Categorization.objects.filter(account_code="485").count() == 2


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_drag_reorders_rules(page, live_server, owner):
    from playwright.sync_api import expect

    from ledger.rules.models import Rule
    from ledger.rules.tests.factories import act, cond, rule_make

    Rule.objects.all().delete()
    for name in ("first", "second", "third"):
        rule_make(name, conditions=[cond("DESCRIPTION", name)], actions=[act("TAX_TYPE", "NONE")])
    browser_login(page, live_server, "olivia")
    page.goto(f"{live_server.url}/rules/")
    page.locator("tr[data-rule]", has_text="third").drag_to(
        page.locator("tr[data-rule]", has_text="first"), target_position={"x": 5, "y": 2}
    )
    expect(page.locator("tr[data-rule] td:nth-child(2) a").first).to_have_text("third")
    page.wait_for_selector("#rule-table:not(.htmx-request)")  # no eval'd predicate: CSP
    expect(page.locator("tr[data-rule] td:nth-child(2) a")).to_have_text(
        ["third", "first", "second"]
    )
    assert list(Rule.objects.values_list("name", flat=True)) == ["third", "first", "second"]
