import pytest

from operations.sync import connectwise_client_for
from operations.tests.factories import ConnectionFactory


@pytest.fixture
def connection(db, connectwise_sim):
    return ConnectionFactory(site_url=connectwise_sim.url)


@pytest.fixture
def client_for():
    """A client of the connection that does not sleep between retries."""
    made = []

    def make(connection, **options):
        options.setdefault("sleep", lambda seconds: None)
        made.append(connectwise_client_for(connection, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()
