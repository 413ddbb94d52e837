"""Every simulator exchange of this process against its contract: the operations
exercised, the allowlist entries that let something through, and the violations.

One log per process (simulators run as threads of the test or demo process), so the
pytest guard and the `contracts` command read what every simulator saw. Tests that
send bad requests on purpose wrap them in `expected()`: what happens inside is kept
apart and handed to them instead of failing the run.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from simulators.contracts.spec import Violation


@dataclass
class Expected:
    violations: list[Violation] = field(default_factory=list)


class ContractLog:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.operations: Counter[tuple[str, str]] = Counter()  # (contract, operation id)
        self.allowlisted: Counter[str] = Counter()  # allowlist entry id -> uses
        self.violations: list[Violation] = []
        self._expected: list[Expected] = []

    def exchange(
        self,
        contract: str | None,
        operation: str | None,
        violations: list[Violation],
        allowed: list[str],
    ) -> None:
        with self.lock:
            if contract and operation:
                self.operations[(contract, operation)] += 1
            self.allowlisted.update(allowed)
            if not violations:
                return
            if self._expected:
                self._expected[-1].violations.extend(violations)
            else:
                self.violations.extend(violations)

    def spec_findings(self, violations: list[Violation], allowed: list[str]) -> None:
        with self.lock:
            self.allowlisted.update(allowed)
            self.violations.extend(violations)

    @contextmanager
    def expected(self) -> Iterator[Expected]:
        """Collect the violations of what runs inside instead of logging them."""
        box = Expected()
        with self.lock:
            self._expected.append(box)
        try:
            yield box
        finally:
            with self.lock:
                self._expected.remove(box)

    def mark(self) -> int:
        with self.lock:
            return len(self.violations)

    def since(self, mark: int) -> list[Violation]:
        with self.lock:
            return list(self.violations[mark:])


LOG = ContractLog()
