"""Headless Chromium: the owner presses "Sync now" and watches the sync to its end."""

import re
import threading
import time

import pytest
from django.db import connections
from playwright.sync_api import expect

from accounts.models import SyncRun
from accounts.tasks import sync_wise_connection
from conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class StandInWorker(threading.Thread):
    """Runs queued connection syncs as a Celery worker would, in this process."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                queued = SyncRun.objects.filter(
                    status=SyncRun.Status.QUEUED, account__isnull=True
                ).first()
                if queued is not None:
                    sync_wise_connection(queued.detail["connection"], queued.pk)
                time.sleep(0.1)
        finally:
            connections.close_all()


def test_sync_now_shows_progress_until_the_balances_are_proved(
    page, live_server, owner, wise_sim, wise_connection
):
    wise_sim.set_faults(slow_rate=1.0, slow_seconds=0.25)  # slow enough to watch
    worker = StandInWorker()
    worker.start()
    try:
        browser_login(page, live_server, "olivia")
        page.goto(f"{live_server.url}/accounts/")
        expect(page.get_by_text("Connected — waiting for the first sync")).to_be_visible()

        page.click("#sync-now")

        progress = page.locator("#sync-progress [data-run]")
        expect(progress).to_have_attribute("data-status", "RUNNING", timeout=10_000)
        bar = page.locator("#sync-progress .progress__bar")
        expect(bar).to_be_visible()
        expect(progress).to_have_attribute("data-status", "SUCCEEDED", timeout=60_000)
        expect(page.locator("#sync-progress")).to_contain_text("Done:")
        expect(bar).to_have_attribute("style", re.compile(r"^width: 100%;?$"))  # set by app.js
        # The accounts table arrived with the last poll, every balance proved.
        expect(page.locator("#accounts-table .proof .badge--ok")).to_have_count(5)
        expect(page.get_by_role("link", name="Tax reserve")).to_be_visible()
    finally:
        worker.stopped.set()
        worker.join(timeout=30)


def test_the_accountant_sees_no_sync_button(
    page, live_server, accountant, wise_sim, wise_connection
):
    browser_login(page, live_server, "arthur")
    page.goto(f"{live_server.url}/accounts/")
    expect(page.get_by_text("Connected — waiting for the first sync")).to_be_visible()
    expect(page.locator("#sync-now")).to_have_count(0)
