"""pytest fixtures: a running ECB simulator with `settings.ECB_URL` pointing at it.

Register with `pytest_plugins = ["simulators.ecb.fixtures"]` (root conftest).
"""

from collections.abc import Iterator
from datetime import date

import pytest

from simulators.ecb.data import FIRST_DAY
from simulators.ecb.server import EcbSimulator, build

# A fixed calendar, so tests never depend on the day they run: a Monday, a TARGET day.
ECB_TODAY = date(2025, 6, 30)
# Eighteen months of history by default keep tests fast; `ecb_full_history` goes to 1999.
ECB_HISTORY_START = date(2024, 1, 1)


@pytest.fixture
def ecb_simulator(settings) -> Iterator[EcbSimulator]:
    server = build(seed=7)
    server.today, server.history_start = ECB_TODAY, ECB_HISTORY_START
    server.days()  # generate the data now, not inside a client's timeout
    with server:
        settings.ECB_URL = server.url
        yield server


@pytest.fixture
def ecb_full_history(ecb_simulator: EcbSimulator) -> EcbSimulator:
    """The same simulator serving every day since 1999-01-04."""
    ecb_simulator.history_start = FIRST_DAY
    return ecb_simulator
