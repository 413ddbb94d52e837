"""pytest fixtures: a running Treasury simulator with `settings.TREASURY_API_URL` at it.

Register with `pytest_plugins = ["simulators.treasury.fixtures"]` (root conftest).
"""

from collections.abc import Iterator
from datetime import date

import pytest

from simulators.treasury.server import TreasurySimulator, build

# Reports up to 2025-06-30 are published; amendments of that report come later.
TREASURY_TODAY = date(2025, 7, 15)


@pytest.fixture
def treasury_simulator(settings) -> Iterator[TreasurySimulator]:
    server = build(seed=7)
    server.today = TREASURY_TODAY
    with server:
        settings.TREASURY_API_URL = server.url
        yield server
