"""The one list of known defects in the published descriptions (`allowlist.yaml`).

Each entry names its contract, the problem, the reason we believe the real service
differs from its description (with the source) and the spec locations concerned. An
entry either *allows* violations found at those locations (a lint finding, or an
exchange breaking that keyword), optionally only in a context the simulator declares
for the request (`when: custom-connection`), or *patches* the description on load,
where the defect is an omission (an operation or alias the service has and the document
lacks). House descriptions have no entries: we fix our own documents instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from simulators.contracts.spec import Violation, resolve_pointer

ALLOWLIST = Path(__file__).resolve().parent / "allowlist.yaml"


@dataclass(frozen=True)
class Entry:
    id: str
    contract: str
    problem: str
    reason: str
    locations: tuple[str, ...]
    when: str = ""
    patch: tuple[dict[str, Any], ...] = ()


class Allowlist:
    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        ids = [e.id for e in self.entries]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"allowlist.yaml repeats ids: {sorted(duplicates)}")

    def allows(self, violation: Violation, context: Iterable[str] = ()) -> Entry | None:
        """The entry that lets this violation through, if any."""
        flags = set(context)
        for entry in self.entries:
            if entry.contract != violation.contract or entry.patch:
                continue
            if entry.when and entry.when not in flags:
                continue
            if any(_within(violation.location, location) for location in entry.locations):
                return entry
        return None

    def patch(self, contract: str, document: dict[str, Any]) -> list[str]:
        """Apply the contract's patch entries to `document` (in place); their ids."""
        applied = []
        for entry in self.entries:
            if entry.contract == contract and entry.patch:
                for operation in entry.patch:
                    _apply(document, operation)
                applied.append(entry.id)
        return applied


def _within(location: str, allowed: str) -> bool:
    return location == allowed or location.startswith(allowed.rstrip("/") + "/")


def _split(location: str) -> tuple[str, str]:
    parent, _, last = location.rstrip("/").rpartition("/")
    return parent or "#", last.replace("~1", "/").replace("~0", "~")


def _apply(document: dict[str, Any], operation: dict[str, Any]) -> None:
    """A JSON Patch (RFC 6902) step with `#/` pointers: add, replace, remove or copy."""
    op, target = operation["op"], operation["path"]
    parent_location, key = _split(target)
    parent = resolve_pointer(document, parent_location)
    if op == "remove":
        del parent[key]
        return
    if op == "copy":
        value = yaml.safe_load(yaml.safe_dump(resolve_pointer(document, operation["from"])))
    else:
        value = operation["value"]
    if op == "replace" and key not in parent:
        raise KeyError(f"allowlist patch: nothing to replace at {target}")
    parent[key] = value


@cache
def allowlist() -> Allowlist:
    with open(ALLOWLIST, "rb") as handle:
        raw = yaml.load(handle, Loader=yaml.CSafeLoader) or []
    return Allowlist(
        Entry(
            id=item["id"],
            contract=item["contract"],
            problem=item["problem"],
            reason=item["reason"],
            locations=tuple(item.get("locations") or [p["path"] for p in item.get("patch", [])]),
            when=item.get("when", ""),
            patch=tuple(item.get("patch") or ()),
        )
        for item in raw
    )
