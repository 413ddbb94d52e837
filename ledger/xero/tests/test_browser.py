"""The owner connects Xero in a real browser: Bulwark → Xero's consent page → back."""

import pytest

from conftest import browser_login
from simulators.xero import seed
from simulators.xero.server import XeroSimulator


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_owner_connects_xero_and_chooses_the_organisation(page, live_server, owner, settings):
    with XeroSimulator(seed_value=5) as sim:  # a consent page, as at Xero
        settings.XERO_API_URL = settings.XERO_IDENTITY_URL = settings.XERO_LOGIN_URL = sim.url
        settings.XERO_CLIENT_ID = seed.DEMO_CLIENT_ID
        settings.XERO_CLIENT_SECRET = seed.DEMO_CLIENT_SECRET
        settings.XERO_REDIRECT_URI = f"{live_server.url}/books/xero/callback/"
        browser_login(page, live_server, "olivia")
        page.goto(f"{live_server.url}/books/xero/")
        page.click("text=Connect to Xero")
        page.wait_for_url(f"{sim.url}/identity/connect/authorize*")
        page.click("text=Allow access")
        page.wait_for_url(f"{live_server.url}/books/xero/")
        page.check("text=Demo Company (US)")
        page.click("text=Use this organisation")
        page.wait_for_selector("#mode-badge")
        assert "Audit only" in page.inner_text("#mode-badge")
        assert "Demo Company (US)" in page.inner_text("#connection")
        assert "base currency USD" in page.inner_text("#connection")
