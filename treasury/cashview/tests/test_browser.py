"""The dashboard in headless Chromium with a realistic business: the owner changes the
base currency and the as-of date and the page updates in place (no reload, the URL
follows); the accountant sees the same figures and no control that changes data. (The README's
screenshot of the dashboard is the demo's: `treasury/demo/tests/test_demo_browser.py`.)"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import SyncRun
from conftest import browser_login
from treasury.cashview.selectors import Choices, cash_view
from treasury.cashview.tests.data import ecb_rates, freelancer
from treasury.fx.policy import RateDatePolicy
from treasury.services import heartbeat_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expected_total(base: str, as_of) -> Decimal:
    choices = Choices(
        base=base, as_of=as_of, policy=RateDatePolicy.TRANSACTION_DATE, range="1y",
        source="ECB", today=timezone.localdate(),
    )  # fmt: skip
    view = cash_view(choices=choices)
    assert view is not None
    return view.total.amount


def business() -> None:
    today = timezone.localdate()
    freelancer(start=today - timedelta(days=3 * 365), end=today - timedelta(days=1))
    ecb_rates(start=today - timedelta(days=3 * 365 + 30), end=today, codes={"USD", "GBP", "JPY"})
    now = timezone.now()
    for kind, label, minutes in (
        (SyncRun.Kind.WISE_BALANCES, "", 4),
        (SyncRun.Kind.WISE_STATEMENTS, "", 4),
        (SyncRun.Kind.RATES, "ECB", 50),
        (SyncRun.Kind.XERO_PUSH, "", 12),
        (SyncRun.Kind.XERO_PULL, "", 35),
    ):
        moment = now - timedelta(minutes=minutes)
        SyncRun.objects.create(
            kind=kind, label=label, status=SyncRun.Status.SUCCEEDED, started_at=moment,
            finished_at=moment,
        )  # fmt: skip
    heartbeat_record(name="worker")


def total_of(page) -> Decimal:
    return Decimal(page.locator("#total-value").get_attribute("data-amount"))


def test_owner_changes_base_and_date_in_place_and_the_accountant_sees_the_same(
    page, live_server, owner, accountant, browser
):
    business()
    today = timezone.localdate()
    browser_login(page, live_server, "olivia")
    assert page.locator("#total-label").inner_text().startswith("TOTAL CASH IN USD")
    assert total_of(page) == expected_total("USD", today)
    assert page.locator("#charts svg.chart-svg").count() == 3
    assert page.locator("#status [data-level=ok]").count() >= 5

    page.evaluate("window.__stillHere = 'yes'")
    with page.expect_response(lambda r: "base=EUR" in r.url):
        page.select_option("#controls select[name=base]", "EUR")
    page.wait_for_selector("#dashboard[data-base=EUR]")  # no eval'd predicate: CSP
    assert "base=EUR" in page.url
    assert page.evaluate("window.__stillHere") == "yes"  # no full reload
    assert total_of(page) == expected_total("EUR", today)

    past = today - timedelta(days=200)
    with page.expect_response(lambda r: f"as_of={past:%Y-%m-%d}" in r.url):
        page.fill("#controls input[name=as_of]", past.isoformat())
    page.wait_for_selector(f"#dashboard[data-as-of='{past:%Y-%m-%d}']")
    assert f"as_of={past:%Y-%m-%d}" in page.url
    assert "base=EUR" in page.url
    assert page.evaluate("window.__stillHere") == "yes"
    owner_total = total_of(page)
    assert owner_total == expected_total("EUR", past)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    try:
        browser_login(other, live_server, "arthur")
        other.goto(page.url)
        assert total_of(other) == owner_total
        rows = "#currencies tr.currency-row"
        assert other.locator(rows).all_inner_texts() == page.locator(rows).all_inner_texts()
        assert other.locator("main form[method=post]").count() == 0
        assert other.locator("main [hx-post], main [hx-delete], main [hx-put]").count() == 0
        assert other.locator(".readonly-banner").is_visible()
    finally:
        context.close()
