"""The work pages in headless Chromium at 1280 px and 390 px, as the owner and the
accountant: none scrolls sideways, and at 1280 px no table hides a column."""

from datetime import date
from decimal import Decimal

import pytest

from conftest import browser_login
from operations.sync import connection_sync
from operations.tests.factories import ConnectionFactory
from treasury.demo.tests.test_demo_browser import LAYOUT
from treasury.fx.models import Rate, Source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGES = ("/work/", "/work/?status=open", "/work/receivables/?as_of=2025-12-31&base=USD",
         "/work/connectwise/")  # fmt: skip


@pytest.mark.parametrize("width", [1280, 390])
def test_the_work_pages_fit(width, browser, live_server, owner, accountant, connectwise_sim,
                            client_for):  # fmt: skip
    connection = ConnectionFactory(site_url=connectwise_sim.url)
    connection_sync(connection=connection, client=client_for(connection))
    for quote, rate in (("USD", "1.0389"), ("GBP", "0.82918")):
        Rate.objects.create(source=Source.ECB, base="EUR", quote=quote, date=date(2025, 12, 31),
                            rate=Decimal(rate))  # fmt: skip
    problems = []
    for user in (owner, accountant):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        browser_login(page, live_server, user.username)
        for url in PAGES:
            page.goto(live_server.url + url)
            assert page.locator("main h1").count() == 1
            found = page.evaluate(LAYOUT)
            if found["overflow"] > 0:
                problems.append(f"{width}px {user} {url}: {found['overflow']}px wider")
            if width >= 1280 and found["hidden"]:
                problems.append(f"{width}px {user} {url}: clipped {found['hidden']}")
        context.close()
    assert problems == []
