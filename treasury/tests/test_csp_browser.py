"""The strict Content-Security-Policy in Chromium: walking the main pages as the owner,
with htmx swapping regions and the SVG charts drawn, the browser reports no violation
and logs no error. Violations are collected from `securitypolicyviolation` events (an
init script, which CSP does not govern) and from the console."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import SyncRun
from conftest import browser_login
from treasury.cashview.tests.data import ecb_rates, freelancer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""
PAGES = [
    "/",
    "/?range=all&base=EUR",
    "/transactions/",
    "/accounts/",
    "/accounts/import/",
    "/rules/",
    "/rules/new/",
    "/rules/uncategorized/",
    "/rules/audit/",
    "/rates/",
    "/fbar/",
    "/books/xero/",
    "/reconciliation/",
    "/account/security/",
    "/admin/",
    "/admin/accounts/transaction/",
    "/admin/reconciliation/mismatch/",
    "/no-such-page/",
]


@pytest.fixture
def business(db):
    today = timezone.localdate()
    freelancer(start=today - timedelta(days=120), end=today - timedelta(days=1))
    ecb_rates(start=today - timedelta(days=150), end=today, codes={"USD", "GBP", "JPY"})
    SyncRun.objects.create(  # a run in progress: the status panel shows a progress bar
        kind=SyncRun.Kind.RATES, label="ECB", status=SyncRun.Status.RUNNING,
        progress_done=3, progress_total=4,
    )  # fmt: skip


def test_the_main_pages_run_under_the_strict_policy(page, live_server, owner, business):
    page.add_init_script(COLLECT)
    console = []
    page.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: console.append(str(error)))
    browser_login(page, live_server, "olivia")
    violations: dict[str, list[str]] = {}
    for path in PAGES:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__csp")
        if found:
            violations[path] = found
    assert violations == {}
    assert [text for text in console if "Content Security Policy" in text] == []

    # htmx works under it: a choice swaps the dashboard region in place, and the charts
    # and bars that came with it are drawn and sized (widths set through the CSSOM).
    page.goto(live_server.url + "/")
    assert page.evaluate("typeof htmx") == "object"
    assert page.locator("figure.chart-figure svg").count() >= 3
    page.evaluate("() => { document.getElementById('dashboard').dataset.mark = 'old'; }")
    page.select_option("select[name=base]", "EUR")
    page.locator("#dashboard:not([data-mark])").wait_for()  # the region was replaced
    assert "base=EUR" in page.url
    assert page.locator("figure.chart-figure svg").count() >= 3
    widths = page.eval_on_selector_all("[data-width]", "els => els.map(e => e.style.width)")
    assert widths
    assert all(width.endswith("%") for width in widths)
    assert page.evaluate("window.__csp") == []
    assert [text for text in console if "Refused" in text] == []
