"""The demo's month-end in headless Chromium, and the README's tour screenshots.

The owner opens the dashboard, opens a mismatch from the queue, resolves it in the admin
and sees the open count drop; the accountant then downloads the FBAR worksheet and the
transactions export and cannot change anything. Every page is the seeded demo, as
`make run` shows it. Screenshots land in `docs/tour-*.png`.
"""

import csv
import io
import json
import re
from datetime import date

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Transaction
from ledger.reconciliation.models import Mismatch
from treasury.demo import DEMO_USERS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = settings.BASE_DIR / "docs"
PASSWORDS = {username: password for _, username, password in DEMO_USERS}


def shot(page, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / f"tour-{name}.png"), full_page=False)


def sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def open_count(page, live_server) -> int:
    page.goto(f"{live_server.url}/reconciliation/")
    text = page.locator("#open-total").inner_text()
    return 0 if text == "Nothing open" else int(text.split()[0].replace(",", ""))


@pytest.fixture
def demo(tmp_path):
    out = io.StringIO()
    call_command(
        "seed_demo", "--size", "900", "--sim-port-base", "0", "--state-dir", str(tmp_path),
        stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_owner_month_end_then_the_accountant_downloads_and_changes_nothing(
    demo, page, live_server, browser
):
    last_year = timezone.localdate().year - 1
    open_before = Mismatch.objects.filter(status=Mismatch.Status.OPEN).count()
    assert open_before == demo["mismatches"] > 0

    # --- the owner's month end -----------------------------------------------------------
    sign_in(page, live_server, "owner")
    expect(page.locator("#total-label")).to_contain_text("Total cash in USD")
    assert page.locator("#charts svg.chart-svg").count() == 3
    shot(page, "dashboard")

    page.goto(f"{live_server.url}/transactions/")
    expect(page.locator("#transactions-results")).to_be_visible()
    shot(page, "transactions")

    page.goto(f"{live_server.url}/rules/uncategorized/")
    page.locator("[data-make-rule]").first.click()
    page.select_option("#id_actions-0-kind", "ACCOUNT_CODE")
    page.fill("#id_actions-0-value", "485")
    expect(page.locator("#preview-count")).to_have_text(re.compile(r"^[1-9][0-9,]*$"))
    shot(page, "rules-preview")

    assert open_count(page, live_server) == open_before
    page.get_by_role("link", name="Open the queue").click()
    expect(page.locator("#result_list")).to_be_visible()
    shot(page, "mismatches")
    page.locator("#result_list tbody tr th a").first.click()
    page.locator("#ignore").click()
    page.fill("textarea[name=reason]", "Checked with the bank: this one is fine.")
    page.locator("input[type=submit][value=Ignore]").click()
    expect(page.locator(".messagelist")).to_be_visible()
    assert open_count(page, live_server) == open_before - 1
    assert Mismatch.objects.filter(status=Mismatch.Status.IGNORED).count() == 1

    page.goto(f"{live_server.url}/fbar/{last_year}/")
    expect(page.locator("#filing")).to_have_text("Required")
    shot(page, "fbar")
    page.get_by_role("button", name="Sign out").click()

    # --- the accountant downloads, and cannot change anything ----------------------------
    sign_in(page, live_server, "accountant")
    page.goto(f"{live_server.url}/fbar/{last_year}/")
    with page.expect_download() as worksheet:
        page.locator(f"a[href='/fbar/{last_year}/export.csv']").first.click()
    rows = list(csv.reader(io.StringIO(worksheet.value.path().read_text())))
    assert worksheet.value.suggested_filename.endswith(f"_fbar_{last_year}.csv")
    assert any("Wise" in " ".join(row) for row in rows)
    assert not any(re.search(r"\d{8,}", cell) for row in rows for cell in row)  # masked

    page.goto(f"{live_server.url}/")
    start, end = date(last_year, 1, 1), date(last_year, 12, 31)
    page.fill("form[aria-label='Transactions export'] input[name=start]", start.isoformat())
    page.fill("form[aria-label='Transactions export'] input[name=end]", end.isoformat())
    with page.expect_download() as export:
        page.locator("form[aria-label='Transactions export'] button[value=csv]").click()
    lines = list(csv.DictReader(io.StringIO(export.value.path().read_text())))
    booked = Transaction.objects.filter(booked_on__range=(start, end)).count()
    assert len(lines) == booked > 0

    mismatch = Mismatch.objects.filter(status=Mismatch.Status.OPEN).first()
    page.goto(f"{live_server.url}/admin/reconciliation/mismatch/{mismatch.pk}/change/")
    expect(page.locator("#ignore")).to_have_count(0)
    expect(page.locator("#post-to-xero")).to_have_count(0)
    token = page.context.cookies()
    csrf = next(c["value"] for c in token if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{live_server.url}/admin/reconciliation/mismatch/{mismatch.pk}/ignore/",
        form={"reason": "not mine to say", "csrfmiddlewaretoken": csrf},
        headers={"X-CSRFToken": csrf, "Referer": f"{live_server.url}/"},
    )
    assert refused.status == 403
    assert open_count(page, live_server) == open_before - 1
