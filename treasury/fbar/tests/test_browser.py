"""The FBAR page in headless Chromium: the owner flips an account's flag and every figure
of the year follows without a reload; the accountant gets the page without controls."""

from datetime import date

import pytest

from conftest import browser_login
from treasury.fbar.tests.factories import bank_account, lines, wise_account
from treasury.fx.tests.factories import treasury

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def seed_2025() -> None:
    # Wise EUR 7,000.00 ÷ 0.85 → $8,236; Sparkasse EUR 3,000.00 ÷ 0.85 → $3,530.
    treasury(date(2025, 12, 31), "EUR", "0.85")
    lines(wise_account("EUR"), (date(2025, 3, 10), "7000.00"))
    lines(bank_account("EUR"), (date(2025, 9, 1), "3000.00"))


def test_owner_flips_the_flag_and_the_year_follows(page, live_server, owner):
    seed_2025()
    browser_login(page, live_server, "olivia")
    page.goto(f"{live_server.url}/fbar/2025/")
    assert page.text_content("#aggregate") == "$11,766"
    assert page.text_content("#filing").strip() == "Required"

    page.locator("tr", has_text="Sparkasse Giro").get_by_role("button").click()

    page.wait_for_selector("#aggregate:text-is('$8,236')")  # no eval'd predicate: CSP
    assert page.text_content("#filing").strip() == "Not required"
    assert "$8,236" in page.text_content("#form-8938")
    assert page.url.endswith("/fbar/2025/")  # swapped in place, no navigation


def test_accountant_sees_figures_and_no_controls(page, live_server, accountant):
    seed_2025()
    browser_login(page, live_server, "arthur")
    page.goto(f"{live_server.url}/fbar/2025/")
    assert page.text_content("#aggregate") == "$11,766"
    assert page.locator("#worksheet form").count() == 0
    assert page.get_by_text("•••• 3000").count() == 1
