"""The suite-wide contract guard (a pytest plugin, listed in the root conftest).

Every exchange any test makes with any in-process simulator is checked against its
contract (`simulators.base`); this plugin fails the test during which a violation was
logged, naming each one, and reports the operations exercised at the end. A test that
breaks a contract on purpose (to see the simulator refuse it) says so with the
`contract_violations` fixture:

    with contract_violations() as seen:
        httpx.put(url, content=b"{}")  # no Content-Type
    assert seen.violations[0].where == "header.Content-Type"

Without the publishers' descriptions (`BULWARK_SPECS_DIR`, or `shared/specs` beside the
checkout) the run stops at once: a suite that cannot check contracts must not pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from simulators.contracts.log import LOG, Expected
from simulators.contracts.spec import SPECS_ENV, available


def pytest_configure(config: pytest.Config) -> None:
    if not available():
        raise pytest.UsageError(
            f"The published API descriptions are missing: set {SPECS_ENV} to the folder "
            "holding xero/ and wise/ (the repository's ../shared/specs)."
        )


@pytest.fixture(autouse=True)
def _contract_guard() -> Iterator[None]:
    mark = LOG.mark()
    yield
    broken = LOG.since(mark)
    if broken:
        lines = "\n".join(f"  - {v} [{v.location}]" for v in broken[:20])
        more = f"\n  ... and {len(broken) - 20} more" if len(broken) > 20 else ""
        pytest.fail(f"{len(broken)} contract violation(s):\n{lines}{more}", pytrace=False)


@pytest.fixture
def contract_violations() -> Callable[[], AbstractContextManager[Expected]]:
    """`with contract_violations() as seen:` collects the violations of what runs inside
    (in `seen.violations`) instead of failing the test."""
    return LOG.expected


def pytest_terminal_summary(terminalreporter: Any) -> None:
    with LOG.lock:
        operations, allowlisted = len(LOG.operations), sum(1 for _ in LOG.allowlisted)
        violations = len(LOG.violations)
    if operations:
        terminalreporter.write_line(
            f"contracts: {operations} operations exercised, {violations} violations, "
            f"{allowlisted} allowlist entries used (this process)"
        )
