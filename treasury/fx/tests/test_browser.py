"""The rates page in headless Chromium: htmx swaps the history chart, the owner saves an
override through the form."""

from datetime import date
from decimal import Decimal

import pytest

from conftest import browser_login
from treasury.fx.calendar import target_days
from treasury.fx.models import Rate
from treasury.fx.tests.factories import ecb

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_history_swaps_in_place_and_an_override_is_saved(page, live_server, owner, settings):
    settings.BASE_CURRENCY = "USD"
    for day in target_days(date(2025, 5, 1), date(2025, 6, 30)):
        ecb(day, USD="1.14", JPY="163.2", GBP="0.845")
    browser_login(page, live_server, "olivia")
    page.goto(f"{live_server.url}/rates/")
    assert page.locator("#history h2").inner_text() == "History: 1 USD in EUR"
    with page.expect_response(lambda r: "/rates/" in r.url and "period=3m" in r.url):
        page.select_option("#id_period", "3m")  # htmx swaps the history on change
    page.wait_for_selector("#history:not(.htmx-request)")
    with page.expect_response(lambda r: "quote=JPY" in r.url):
        page.fill("#id_quote", "JPY")
        page.locator("#history button[type=submit]").click()
    page.wait_for_selector("#history h2:has-text('JPY')")  # no eval'd predicate: CSP
    assert page.locator("#history svg.chart-svg polyline").count() == 1
    assert "quote=JPY" in page.url  # hx-push-url keeps the address shareable

    form = page.locator("#overrides form.override-form")
    form.locator("[name=quote]").fill("GBP")
    form.locator("[name=rate]").fill("0.7412")
    form.locator("[name=date]").fill("2025-06-30")
    form.locator("[name=reason]").fill("Booked at the bank's rate")
    form.get_by_role("button", name="Save override").click()
    page.wait_for_selector("#overrides td:has-text('Booked at the bank')")
    assert Rate.objects.get(source="MANUAL").rate == Decimal("0.7412")
