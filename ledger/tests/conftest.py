"""Books tests run against the Xero simulator over real HTTP."""

import pytest

from simulators.xero.fixtures import xero_sim  # noqa: F401 - a fixture (lead: root conftest)


@pytest.fixture(autouse=True)
def _short_minute(monkeypatch):
    """The simulator's limit windows are shortened in tests; so is Bulwark's guess of them."""
    from ledger.xero import limits

    monkeypatch.setattr(limits, "MINUTE_SECONDS", 2.0)
