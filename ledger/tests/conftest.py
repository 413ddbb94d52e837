"""Books tests run against the Xero simulator over real HTTP."""

import pytest


@pytest.fixture(autouse=True)
def _short_minute(monkeypatch):
    """The simulator's limit windows are shortened in tests; so is Bulwark's guess of them."""
    from ledger.xero import limits

    monkeypatch.setattr(limits, "MINUTE_SECONDS", 2.0)
