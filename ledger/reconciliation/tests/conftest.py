"""Reconciliation tests: the Xero simulator's fixtures, no grace period (lines stored a
moment ago count as expected in Xero once the books were read back)."""

import pytest


@pytest.fixture(autouse=True)
def _no_grace(settings):
    settings.RECONCILE_GRACE_HOURS = 0


@pytest.fixture(autouse=True)
def _short_minute(monkeypatch):
    """The simulator's limit windows are shortened in tests; so is Bulwark's guess of them."""
    from ledger.xero import limits

    monkeypatch.setattr(limits, "MINUTE_SECONDS", 2.0)
