"""The demo's month end in headless Chromium, every page at 1280 px and 390 px, and the
README's tour screenshots.

The owner opens the dashboard (the hand-entered bank account shows the balance the FBAR
uses), the transactions with their categories and totals, a rule made from a line,
the Books mapping (nothing created unless asked), then works the mismatch queue in the
admin: one amount put back in Xero from the Wise line, one date accepted with the side
that is right. The accountant downloads the masked FBAR worksheet and the transactions
export, cannot change anything, changes their own password and signs out from the admin.
Then every page is walked at both widths, as each role: none scrolls sideways, and at
1280 px no table hides a column. The simulators run again from the snapshots the seed
left, so the admin's actions reach Xero over HTTP. Screenshots land in var/tour/, or in
docs/tour-*.png (the README's) with BULWARK_TOUR_SCREENSHOTS=docs, so a test run never
leaves the checkout changed.
"""

import csv
import io
import json
import os
import re
import zipfile
from datetime import date

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import CashAccount, Transaction
from archive.models import StatementProof
from ledger.reconciliation.models import Mismatch
from ledger.rules.models import Rule
from simulators.demo import demo_settings
from treasury.demo import DEMO_USERS
from treasury.demo.world import world_open
from treasury.money import money_format
from treasury.services import heartbeat_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = (
    settings.BASE_DIR / "docs"
    if os.environ.get("BULWARK_TOUR_SCREENSHOTS") == "docs"
    else settings.VAR_DIR / "tour"
)
PASSWORDS = {username: password for _, username, password in DEMO_USERS}
NEW_PASSWORD = "a-quiet-ledger-at-noon-73"
# Whether the page scrolls sideways, (at a desktop width) any table hiding columns, the
# menu's height and whether its last links are cut off, and buttons whose text is too
# faint on their background to look active (contrast under 3:1, WCAG's bar for controls).
LAYOUT = """() => {
  const root = document.documentElement;
  const hidden = [...document.querySelectorAll('.table-wrap, .results, .recon-scroll')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className);
  const bar = document.querySelector('.topbar__inner');
  const nav = document.querySelector('.nav');
  const rgb = (text) => (text.match(/[0-9.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => { for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3); }
    return [255, 255, 255]; };
  const faint = [...document.querySelectorAll('.btn, button, .button')]
    .filter(b => b.offsetParent && !b.disabled && !b.closest('[aria-hidden=true]'))
    .filter(b => { const a = lum(rgb(getComputedStyle(b).color)), c = lum(background(b));
      return (Math.max(a, c) + 0.05) / (Math.min(a, c) + 0.05) < 3; })
    .map(b => b.textContent.trim().slice(0, 30));
  return {overflow: root.scrollWidth - root.clientWidth, hidden, faint,
          bar: bar ? bar.getBoundingClientRect().height : 0,
          menuClipped: nav ? nav.scrollWidth > nav.clientWidth + 1 : false};
}"""


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"tour-{name}.png"), full_page=False)


def sign_in(page, live_server, username: str, password: str = "") -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def open_count(page, live_server) -> int:
    page.goto(f"{live_server.url}/reconciliation/")
    text = page.locator("#open-total").inner_text()
    return 0 if text == "Nothing open" else int(text.split()[0].replace(",", ""))


@pytest.fixture
def demo(tmp_path, settings):
    out = io.StringIO()
    call_command(
        "seed_demo", "--size", "900", "--sim-port-base", "0", "--state-dir", str(tmp_path),
        stdout=out,
    )  # fmt: skip
    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    ports = dict.fromkeys(("wise", "xero", "ecb", "treasury"), 0)
    # The simulators again, from the snapshots the seed left, as `make run` runs them.
    with world_open(seed=1, size=900, ports=ports, state_dir=tmp_path,
                    today=timezone.localdate()) as world:  # fmt: skip
        for name, value in demo_settings(world.urls).items():
            setattr(settings, name, value)
        yield figures


def pages(year: int) -> list[str]:
    dkb = CashAccount.objects.get(name="DKB Girokonto")
    line = Transaction.objects.order_by("pk").first()
    mismatch = Mismatch.objects.order_by("pk").first()
    return [
        "/", "/accounts/", "/accounts/wise/", "/accounts/import/", "/transactions/",
        "/rules/", "/rules/new/", f"/rules/{Rule.objects.order_by('pk').first().pk}/",
        "/rules/uncategorized/", "/rules/audit/", f"/rules/lines/{line.pk}/", "/books/xero/",
        "/reconciliation/", "/rates/", f"/fbar/{year - 1}/", f"/fbar/{year}/",
        f"/fbar/accounts/{dkb.pk}/", "/fbar/accounts/add/", "/account/security/",
        "/account/password/", "/admin/", "/admin/reconciliation/mismatch/",
        f"/admin/reconciliation/mismatch/{mismatch.pk}/change/",
        f"/admin/accounts/cashaccount/{dkb.pk}/change/", "/archive/", "/archive/upload/",
        "/archive/rules/", "/archive/retention/",
    ]  # fmt: skip


def walk(browser, live_server, width: int, urls: list[str]) -> list[str]:
    """Every page at `width` as the owner then the accountant; what does not fit."""
    problems = []
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    for username in ("owner", "accountant"):
        sign_in(page, live_server, username, NEW_PASSWORD if username == "accountant" else "")
        for url in urls:
            page.goto(live_server.url + url)
            found = page.evaluate(LAYOUT)
            if found["overflow"] > 0:
                problems.append(f"{width}px {username} {url}: {found['overflow']}px wider")
            if width >= 1280 and found["hidden"]:
                problems.append(f"{width}px {username} {url}: clipped {found['hidden']}")
            if width >= 1280 and found["bar"] > 60:
                problems.append(f"{width}px {username} {url}: the menu wraps")
            if width >= 1280 and found["menuClipped"]:
                problems.append(f"{width}px {username} {url}: the menu is cut off")
            if found["faint"]:
                problems.append(f"{width}px {username} {url}: faint buttons {found['faint']}")
        page.context.clear_cookies()
    context.close()
    return problems


def test_month_end_the_accountant_visit_and_every_page_at_both_widths(
    demo, page, live_server, browser
):
    year = timezone.localdate().year
    last_year = year - 1
    open_before = Mismatch.objects.filter(status=Mismatch.Status.OPEN).count()
    assert open_before == demo["mismatches"] > 0

    # --- the owner's month end -----------------------------------------------------------
    heartbeat_record(name="worker")  # `make run`'s worker is up, as in the tour
    sign_in(page, live_server, "owner")
    expect(page.locator("#total-label")).to_contain_text("Total cash in USD")
    assert page.locator("#charts svg.chart-svg").count() == 3
    dkb = CashAccount.objects.get(name="DKB Girokonto")
    last_entered = dkb.snapshots.order_by("-taken_at").first()  # the month end entered by hand
    hand = page.locator(f"tr.account-row[data-account='{dkb.pk}'] td[data-balance]")
    expect(hand).to_contain_text(money_format(last_entered.balance, "EUR"))  # was 0.00
    expect(hand).to_contain_text("entered by hand")
    shot(page, "dashboard")

    page.goto(f"{live_server.url}/transactions/")
    expect(page.locator("#transactions-totals")).to_contain_text("lines in all")
    expect(page.locator("td[data-category]").first).not_to_be_empty()
    shot(page, "transactions")

    page.goto(f"{live_server.url}/rules/uncategorized/")
    page.locator("[data-make-rule]").first.click()
    page.select_option("#id_actions-0-kind", "ACCOUNT_CODE")
    page.select_option("#id_actions-0-account", "485")  # a lookup of Xero's chart
    expect(page.locator("#preview-count")).to_have_text(re.compile(r"^[1-9][0-9,]*$"))
    shot(page, "rules-preview")

    page.goto(f"{live_server.url}/books/xero/")
    dkb_row = page.locator(f"select[name='cash_{dkb.pk}']")
    assert dkb_row.input_value() == ""  # "Not mapped": nothing is created unless asked
    expect(dkb_row.locator("option[value=new]")).to_have_text(
        "Create “DKB Girokonto (EUR)” in Xero"
    )

    assert open_count(page, live_server) == open_before
    page.get_by_role("link", name="Open the queue").click()
    expect(page.locator("#result_list")).to_be_visible()
    shot(page, "mismatches")

    amount = Mismatch.objects.get(status="OPEN", type=Mismatch.Type.AMOUNT_DIFFERS)
    page.goto(f"{live_server.url}/admin/reconciliation/mismatch/{amount.pk}/change/")
    with page.expect_navigation(timeout=60_000):  # posts, reads the books back, reconciles
        page.locator("#correct-in-xero").click()
    expect(page.locator(".messagelist")).to_contain_text("Updated 1 Xero entry")
    amount.refresh_from_db()
    assert amount.status == Mismatch.Status.RESOLVED

    late = Mismatch.objects.get(status="OPEN", type=Mismatch.Type.DATE_BEYOND_WINDOW)
    page.goto(f"{live_server.url}/admin/reconciliation/mismatch/{late.pk}/change/")
    page.locator("#accept").click()
    page.get_by_label("Xero is right (the books keep their figure)").check()
    page.fill("textarea[name=reason]", "Booked on the invoice date, as the accountant wants.")
    page.locator("input[type=submit][value=Accept]").click()
    expect(page.locator("#mismatch-state")).to_contain_text("Accepted · Xero is right")
    assert open_count(page, live_server) < open_before - 1  # balances settled too

    page.goto(f"{live_server.url}/fbar/{last_year}/")
    expect(page.locator("#filing")).to_have_text("Required")
    expect(page.locator("details.holder").first).to_contain_text("your decision")
    shot(page, "fbar")
    page.get_by_role("button", name="Sign out").click()

    # --- the accountant downloads, changes nothing, manages their own sign-in ------------
    sign_in(page, live_server, "accountant")
    page.goto(f"{live_server.url}/fbar/{last_year}/")
    with page.expect_download() as worksheet:
        page.locator(f"a[href='/fbar/{last_year}/export.csv']").first.click()
    assert worksheet.value.suggested_filename.endswith(f"_fbar_{last_year}_masked.csv")
    rows = list(csv.reader(io.StringIO(worksheet.value.path().read_text())))
    assert any("Wise" in " ".join(row) for row in rows)
    assert not any(re.search(r"\d{8,}", cell) for row in rows for cell in row)  # masked

    page.goto(f"{live_server.url}/")
    start, end = date(last_year, 1, 1), date(last_year, 12, 31)
    page.fill("form[aria-label='Transactions export'] input[name=start]", start.isoformat())
    page.fill("form[aria-label='Transactions export'] input[name=end]", end.isoformat())
    with page.expect_download() as export:
        page.locator("form[aria-label='Transactions export'] button[value=csv]").click()
    lines = list(csv.DictReader(io.StringIO(export.value.path().read_text())))
    assert len(lines) == Transaction.objects.filter(booked_on__range=(start, end)).count() > 0

    page.goto(f"{live_server.url}/archive/")
    expect(page.locator("#holes")).to_have_text("1 month missing")
    expect(page.locator("#differences")).to_contain_text("1 statement differs")
    expect(page.locator("td[data-state=HOLE]")).to_have_count(1)
    shot(page, "archive")
    differing = StatementProof.objects.get(status="DIFFERS").month
    page.select_option("#period", f"{differing:%Y-%m}")
    with page.expect_download() as bundle:
        page.locator("#download button[type=submit]").click()
    archive = zipfile.ZipFile(bundle.value.path())
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert {row["file"] for row in manifest} == set(archive.namelist()) - {"manifest.csv"}
    statuses = [row["proof_status"] for row in manifest if row["file"].endswith(".xml")]
    assert len([s for s in statuses if s.startswith("differs from Bulwark's record")]) == 1
    assert statuses.count("agrees with Bulwark's record") == len(statuses) - 1

    mismatch = Mismatch.objects.filter(status=Mismatch.Status.OPEN).first()
    page.goto(f"{live_server.url}/admin/reconciliation/mismatch/{mismatch.pk}/change/")
    expect(page.locator(".recon-actions")).to_have_count(0)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{live_server.url}/admin/reconciliation/mismatch/{mismatch.pk}/ignore/",
        form={"reason": "not mine to say", "csrfmiddlewaretoken": csrf},
        headers={"X-CSRFToken": csrf, "Referer": f"{live_server.url}/"},
    )
    assert refused.status == 403
    page.goto(f"{live_server.url}/admin/accounts/cashaccount/{dkb.pk}/change/")
    expect(page.locator("#content-main")).to_contain_text("•••• 2051")

    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Change password").click()
    page.fill("#id_old_password", PASSWORDS["accountant"])
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".messages")).to_contain_text("Your password is changed.")
    page.goto(f"{live_server.url}/admin/")
    page.locator("#logout-form button").click()
    page.wait_for_url(re.compile(r"/login/"))

    # --- every page, at a laptop's width and a phone's -----------------------------------
    urls = pages(year)
    problems = walk(browser, live_server, 1280, urls) + walk(browser, live_server, 390, urls)
    assert problems == []
