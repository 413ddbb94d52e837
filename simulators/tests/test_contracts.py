"""The allowlist stays honest: each entry names a contract, a reason and spec locations
that exist in the loaded description (a stale entry would let nothing, or anything, by)."""

import pytest

from simulators.contracts.allowlist import allowlist
from simulators.contracts.spec import (
    PUBLISHED,
    SOURCES,
    contract,
    resolve_pointer,
    shared_specs_dir,
)


@pytest.mark.parametrize("entry", allowlist().entries, ids=lambda e: e.id)
def test_every_allowlist_entry_points_at_the_published_description(entry):
    assert SOURCES[entry.contract][0] == "published"  # we fix our own documents instead
    assert entry.problem.strip()
    assert len(entry.reason.strip()) > 40
    assert entry.locations
    document = contract(entry.contract).document
    for location in entry.locations:
        parent, _, key = location.rpartition("/")
        node = resolve_pointer(document, parent)
        assert key.replace("~1", "/").replace("~0", "~") in node, location


def test_the_descriptions_own_defects_are_all_allowlisted():
    for name in SOURCES:
        for finding in contract(name).findings:
            assert allowlist().allows(finding) is not None, finding


def test_the_kept_copies_are_the_published_descriptions():
    shared = shared_specs_dir()
    if shared is None:
        pytest.skip("the workspace's shared/specs is not beside this checkout")
    for name, (kind, relative) in SOURCES.items():
        if kind == "published":
            kept = (PUBLISHED / relative).read_bytes()
            assert kept == (shared / relative).read_bytes(), f"{name}: {relative} differs"
