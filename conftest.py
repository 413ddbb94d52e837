"""Fixtures shared by every app's tests: users in each role and clients signed in as them."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from treasury.services import user_create_accountant, user_create_owner

# Simulator fixtures (`xero_sim`, ...) for every app's tests.
pytest_plugins = [
    "simulators.xero.fixtures",
    "simulators.ecb.fixtures",
    "simulators.treasury.fixtures",
    "simulators.wise.fixtures",
    "simulators.connectwise.fixtures",
    # The Xero adapter's own test settings (the limit windows the simulator shortens).
    "ledger.xero.testing",
    # Every exchange with a simulator is checked against the published descriptions.
    "simulators.contracts.guard",
]

PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105 - test users only


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at production strength costs ~0.3 s a user; tests make hundreds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _shared_limits_fresh():
    """Each test starts with empty shared windows and slots (the simulators' organisations
    carry the same ids in every test), as it starts with a fresh simulator."""
    from treasury import limits

    yield
    limits.shared_forget()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Stored files (the archive's) go to the test's own folder, never the checkout's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def owner(db) -> User:
    return user_create_owner(username="olivia", email="olivia@example.com", password=PASSWORD)


@pytest.fixture
def accountant(db) -> User:
    return user_create_accountant(username="arthur", email="arthur@example.com", password=PASSWORD)


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def accountant_client(accountant: User) -> Client:
    client = Client()
    client.force_login(accountant)
    return client


# --- Browser tests (Playwright driving Debian's Chromium, headless) ---------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (`.ci/run` installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def browser_login(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real login form."""
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
