"""The QuickBooks client's tests run against the QuickBooks simulator over real HTTP."""

from simulators.quickbooks.fixtures import qbo_server, qbo_sim  # noqa: F401 - fixtures
