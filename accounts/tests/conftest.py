"""Fixtures of the money-held tests: the Wise simulator and a connection to it."""

from collections.abc import Callable

import pytest

from accounts.models import WiseConnection
from accounts.tests.wise_helpers import connection_to


@pytest.fixture
def wise_settings(settings):
    """Fast retries and timeouts, for faults that must be retried quickly."""
    settings.WISE_RETRY_BACKOFF_MS = 5
    settings.HTTP_TIMEOUT_SECONDS = 2
    settings.WISE_HTTP_RETRIES = 8
    return settings


@pytest.fixture
def wise_connection(db, wise_sim, wise_settings) -> WiseConnection:
    return connection_to(wise_sim, wise_settings)


@pytest.fixture
def connect(db, wise_settings) -> Callable[..., WiseConnection]:
    return lambda sim, **options: connection_to(sim, wise_settings, **options)


@pytest.fixture
def hooked(wise_sim, connect) -> WiseConnection:
    """A connection that knows the simulator's webhook key, with its accounts synced."""
    from accounts.wise.sync import wise_balances_sync

    connection = connect(wise_sim, webhook_public_key=wise_sim.webhook_public_key_pem)
    wise_balances_sync(connection=connection)
    return connection
