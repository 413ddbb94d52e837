"""Reconciliation tests: the Xero simulator's fixtures, no grace period (lines stored a
moment ago count as expected in Xero once the books were read back)."""

import pytest


@pytest.fixture(autouse=True)
def _no_grace(settings):
    settings.RECONCILE_GRACE_HOURS = 0
