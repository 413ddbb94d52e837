"""The upload page in headless Chromium: the owner drops a file, htmx shows the result."""

import pytest

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
