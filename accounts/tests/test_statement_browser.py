"""The upload page in headless Chromium: the owner drops a file, htmx shows the result."""

import pytest

from accounts.models import CashAccount
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import DATA
from conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_imports_a_file_and_the_result_and_list_update_in_place(page, live_server, owner):
    account = CashAccountFactory(currency="EUR", name="Main EUR")
    browser_login(page, live_server, "olivia")
    page.goto(f"{live_server.url}/accounts/import/")
    page.select_option("#id_account", str(account.pk))
    page.set_input_files("#id_file", str(DATA / "camt053_eur_2025-03.xml"))
    page.get_by_role("button", name="Import").click()

    result = page.locator("#import-result .alert--ok")
    result.wait_for()
    assert "6 new lines, 0 already present" in " ".join(result.inner_text().split())
    assert page.url == f"{live_server.url}/accounts/import/"  # swapped in place by htmx
    assert "camt053_eur_2025-03.xml" in page.locator("#recent-imports").inner_text()
    assert account.transactions.count() == 6

    page.set_input_files("#id_file", str(DATA / "wise_eur_2025-03.csv"))
    page.get_by_role("button", name="Import").click()
    page.locator("#import-result .alert--ok", has_text="6 already present").wait_for()
    assert account.transactions.count() == 6


def test_owner_gives_each_account_of_a_file_a_home_then_imports(page, live_server, owner):
    dollars = CashAccountFactory(currency="USD", name="Dollars", account_number="")
    browser_login(page, live_server, "olivia")
    page.goto(f"{live_server.url}/accounts/import/")
    page.set_input_files("#id_file", str(DATA / "mt940_ing_multi.sta"))
    page.get_by_role("button", name="Import").click()

    page.locator("#import-result .alert--warn", has_text="Nothing stored yet").wait_for()
    choices = page.locator("#import-form fieldset")
    assert choices.count() == 3
    assert page.input_value("#id_map-0-name") == "ING EUR ••4567"
    page.select_option("#id_map-1-target", str(dollars.pk))
    page.fill("#id_map-2-name", "ING sparen")
    page.get_by_role("button", name="Import").click()  # the file is still chosen

    page.locator("#import-result .alert--ok", has_text="imported into 3 accounts").wait_for()
    assert page.locator("#import-form fieldset").count() == 0
    assert dollars.transactions.count() == 1
    assert {a.name for a in CashAccount.objects.all()} == {
        "ING EUR ••4567",
        "Dollars",
        "ING sparen",
    }
