from simulators.quickbooks.fixtures import qbo_server, qbo_sim  # noqa: F401 - fixtures
