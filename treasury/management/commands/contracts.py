"""`python manage.py contracts`: Bulwark's clients against the strict simulators.

Runs every operation Bulwark uses once (`treasury.demo.contracts`), with each exchange
checked against the published descriptions (and, where a service publishes none, ours),
then prints per API the operations exercised and the violations found, and last a JSON
line `{"operations": N, "violations": V, "allowlisted": K}`: N operations exercised, V
violations (exchanges, unlisted spec defects, operations the README names that were not
exercised), K allowlist entries that let a known spec defect through. It fails when V
is not 0.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulators.contracts.allowlist import allowlist
from simulators.contracts.spec import SOURCES, contract
from treasury.demo.contracts import exercise, report


class Command(BaseCommand):
    help = "Run Bulwark's clients against the strict simulators and report the contracts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="Seed of the simulated data.")

    def handle(self, *args: Any, **options: Any) -> None:
        exercise(options["seed"], say=lambda line: self.stdout.write(f"· {line}"))
        found = report()
        reasons = {entry.id: entry for entry in allowlist().entries}
        for name, (kind, _) in SOURCES.items():
            spec = contract(name)
            label = "published" if kind == "published" else "ours, from the documentation"
            self.stdout.write(
                f"\n{name}: {spec.title} {spec.api_version} ({label}: {spec.path.name})"
            )
            labels: dict[str, list[str]] = {}
            for operation in spec.operations:  # an allowlist alias shares its id
                labels.setdefault(operation.id, []).append(operation.label)
            for operation_id, count in found.operations.get(name, {}).items():
                shown = " or ".join(sorted(labels.get(operation_id, [])))
                self.stdout.write(f"  {operation_id:32} {count:>4} x  {shown}")
            prefix = f"{name} "
            problems = [v for v in found.violations if v.startswith(prefix)]
            problems += [f"{m}: not exercised" for m in found.missing if m.startswith(prefix)]
            self.stdout.write(f"  violations: {len(problems)}")
            for problem in problems:
                self.stdout.write(f"    - {problem}")
        self.stdout.write("\nallowlisted (simulators/contracts/allowlist.yaml):")
        for entry_id in found.allowlisted:
            entry = reasons[entry_id]
            self.stdout.write(f"  {entry_id} ({entry.contract}): {entry.problem[:90]}…")
        violations = len(found.violations) + len(found.missing)
        operations = sum(len(ops) for ops in found.operations.values())
        self.stdout.write(
            json.dumps(
                {
                    "operations": operations,
                    "violations": violations,
                    "allowlisted": len(found.allowlisted),
                }
            )
        )
        if violations:
            raise CommandError(f"{violations} contract violation(s)")
