"""Headless Chromium signs in as each role against a live server."""

import pytest

from conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_sees_the_base_layout(page, live_server, owner):
    browser_login(page, live_server, "olivia")
    assert page.title() == "Dashboard · Bulwark"
    nav = page.locator("nav.nav")
    assert nav.get_by_role("link", name="Dashboard").is_visible()
    assert page.locator(".badge--owner").inner_text() == "Owner"
    assert page.locator(".readonly-banner").count() == 0
    # htmx is served locally from the django-htmx package and running.
    assert page.evaluate("typeof htmx") == "object"
    assert "/static/django_htmx/" in page.locator("script[src*=htmx]").get_attribute("src")
    headers = page.locator("body").get_attribute("hx-headers")
    assert "X-CSRFToken" in headers


def test_accountant_sees_read_only_layout_and_can_sign_out(page, live_server, accountant):
    browser_login(page, live_server, "arthur")
    assert page.locator(".badge--accountant").inner_text() == "Accountant"
    assert page.locator(".readonly-banner").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/login/")


def test_wrong_password_shows_a_clear_error(page, live_server, owner):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "nope")
    page.click("button[type=submit]")
    assert "correct username and password" in page.locator(".alert--error").inner_text()
