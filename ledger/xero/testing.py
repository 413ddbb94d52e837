"""Pytest plugin of the Xero adapter (listed in the root conftest's `pytest_plugins`):
the simulator's limit windows are shortened in tests, and so is Bulwark's guess of them,
for every test that reaches Xero (the books', reconciliation's, the demo's)."""

import pytest

from ledger.xero import limits


@pytest.fixture(autouse=True)
def _xero_short_minute(monkeypatch):
    monkeypatch.setattr(limits, "MINUTE_SECONDS", 2.0)
