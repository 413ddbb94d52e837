"""pytest fixtures for the QuickBooks simulator (tests import them until the lead
registers this module as a plugin in the root conftest).

- `qbo_sim`: a started simulator that consents at once (to its first company unless
  `consent_realm` is set), freshly reset for each test (one server serves a module's
  tests: starting and stopping one per test would cost half a second each). At teardown
  it asserts that no request or response broke Intuit's schema: a test that sends a
  malformed body on purpose clears `sim.violations` after asserting on them.
- `qbo_connect(sim, realm_id)`: the authorization-code flow over HTTP, as Bulwark's
  callback would do it; returns Intuit's token reply with the `realmId`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulators.quickbooks import seed
from simulators.quickbooks.server import QuickBooksSimulator

REDIRECT_URI = "http://testserver/books/quickbooks/callback/"


@pytest.fixture(scope="module")
def qbo_server() -> Iterator[QuickBooksSimulator]:
    sim = QuickBooksSimulator(seed_value=7, auto_consent=True).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def qbo_sim(qbo_server: QuickBooksSimulator) -> Iterator[QuickBooksSimulator]:
    qbo_server.reset()
    yield qbo_server
    assert not qbo_server.violations, "\n".join(str(v) for v in qbo_server.violations)


def qbo_connect(sim: QuickBooksSimulator, realm_id: str | None = None) -> dict[str, Any]:
    sim.consent_realm = realm_id or sim.realm_ids[0]
    consent = httpx.get(
        f"{sim.url}/connect/oauth2",
        params={
            "client_id": seed.DEMO_CLIENT_ID,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "redirect_uri": REDIRECT_URI,
            "state": "test-state",
        },
        timeout=5,
    )
    assert consent.status_code == 302, consent.text[:300]
    back = parse_qs(urlsplit(consent.headers["Location"]).query)
    tokens = httpx.post(
        f"{sim.url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": back["code"][0],
              "redirect_uri": REDIRECT_URI},
        auth=(seed.DEMO_CLIENT_ID, seed.DEMO_CLIENT_SECRET),
        timeout=5,
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text[:300]
    return {**tokens.json(), "realmId": back["realmId"][0], "state": back["state"][0]}
