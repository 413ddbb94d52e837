"""pytest fixtures for the Xero simulator (the lead registers this module as a plugin in
the root conftest; until then tests import it in their conftest).

- `xero_sim`: a started simulator (auto-consent) with Bulwark's settings pointed at it
  and the demo app's credentials configured.
- `xero_authorize(client, sim)`: drive the real sign-in over HTTP: the owner's POST to
  Bulwark, the simulator's authorize redirect, and the callback back into Bulwark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from simulators.xero import seed
from simulators.xero.server import XeroSimulator


@pytest.fixture
def xero_sim(settings: Any) -> Iterator[XeroSimulator]:
    sim = XeroSimulator(seed_value=7, auto_consent=True).start()
    settings.XERO_API_URL = settings.XERO_IDENTITY_URL = settings.XERO_LOGIN_URL = sim.url
    settings.XERO_CLIENT_ID = seed.DEMO_CLIENT_ID
    settings.XERO_CLIENT_SECRET = seed.DEMO_CLIENT_SECRET
    settings.XERO_REDIRECT_URI = "http://testserver/books/xero/callback/"
    settings.HTTP_TIMEOUT_SECONDS = 5
    try:
        yield sim
    finally:
        sim.stop()


def xero_authorize(client: Any, sim: XeroSimulator) -> Any:
    """Sign in to the simulator through Bulwark's pages; returns the callback's response."""
    start = client.post("/books/xero/connect/")
    assert start.status_code == 302, start.content[:300]
    consent = httpx.get(start["Location"], follow_redirects=False, timeout=5)
    assert consent.status_code == 302, consent.text[:300]
    back = urlsplit(consent.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def xero_connect_first_org(client: Any, sim: XeroSimulator) -> Any:
    """Sign in and choose the simulator's first organisation (USD base, multi-currency)."""
    xero_authorize(client, sim)
    return client.post("/books/xero/organisation/", {"tenant_id": sim.tenant_ids[0]})
