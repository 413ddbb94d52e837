"""Shared pieces of the fuzz and property suite (hypothesis).

Size: each fuzz test runs `examples(n)` generated cases, n scaled by
`BULWARK_FUZZ_SCALE` (default 1: the suite's budget, about half a minute in all). Run it
longer with, e.g., `make fuzz` (scale 20) or
`BULWARK_FUZZ_SCALE=50 .venv/bin/pytest -m fuzz`.

At scale 1 (`make test`, CI) the cases are derandomized: the same every run, so a red
run is reproducible and a landing never depends on luck. A larger scale draws new cases
each run; what fails is kept in `var/hypothesis/` and replayed first the next time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

SCALE = float(os.environ.get("BULWARK_FUZZ_SCALE", "1"))
EXPLORE = SCALE > 1
DATABASE = DirectoryBasedExampleDatabase(
    str(Path(__file__).resolve().parents[2] / "var" / "hypothesis")
)


def examples(n: int) -> settings:
    """Hypothesis settings for a fuzz test of `n` cases at scale 1."""
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        derandomize=not EXPLORE,
        database=DATABASE if EXPLORE else None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# What an attacker types: markup that must come back escaped, formula starts, numbers
# past every column, days out of range, Unicode digits, NUL, long strings.
MARKER = "<b id=fz>"
HOSTILE = [
    MARKER,
    '"><b id=fz>',
    "'><b id=fz>",
    "javascript:alert(1)",
    '=HYPERLINK("http://x")',
    "0",
    "-1",
    "1e309",
    "NaN",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999999999",
    "0001-01-01",
    "9999-12-31",
    "2025-02-30",
    "1970-01-01",
    "\u00b2",
    "\uff11\uff12",
    "\u0000",
    "../../etc/passwd",
    "%00",
    " ",
    "",
    "x" * 5000,
]
value = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=40),
)
# Names the views read, and a few they do not.
PARAMETERS = [
    "as_of", "base", "policy", "range", "source", "format", "start", "end", "run", "after",
    "before", "account", "currency", "date_from", "date_to", "type", "q", "page",
    "from_line", "rule_id", "year", "copy", "all", "polling", "quote", "period", "next",
    "error", "code", "state", "o", "p", "e", "id__gt", "pk__in", "_changelist_filters",
    "conditions-TOTAL_FORMS", "actions-TOTAL_FORMS", "zzz",
]  # fmt: skip
query = st.lists(st.tuples(st.sampled_from(PARAMETERS), value), max_size=5)

# Values typed by what a parameter holds: ids and counts, days, or anything else.
INTEGER_NAME = re.compile(r"(^|_)(id|pk|run|page|account|year|line|seq|count|forms)$", re.I)
DATE_NAME = re.compile(r"(date|as_of|^start$|^end$|_on$|_at$|^day$)", re.I)
# Boundaries first (weighted three to one): the cases that broke views before.
INT_EDGES = [
    "0", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "\u00b2", "\uff11", "1e3", "0x1", "1.0", "1_0", " 7 ",
]  # fmt: skip
DATE_EDGES = [
    "0001-01-01", "1969-12-31", "1970-01-01", "2999-12-31", "3000-01-01", "9999-12-31",
    "2025-02-30", "2025-13-01", "20250101", "2025-1-1",
]  # fmt: skip
hostile_int = st.one_of(
    *[st.sampled_from(INT_EDGES)] * 3, st.integers(min_value=-(2**70), max_value=2**70).map(str)
)
hostile_date = st.one_of(
    *[st.sampled_from(DATE_EDGES)] * 3, st.dates().map(lambda d: d.isoformat())
)


def value_for(name: str, seen: str = "") -> st.SearchStrategy[str]:
    """Values for parameter `name` (whose page showed `seen`), typed when it can tell."""
    if INTEGER_NAME.search(name) or (seen.isdigit() and seen):
        return st.one_of(hostile_int, hostile_int, value)
    if DATE_NAME.search(name) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", seen or "-"):
        return st.one_of(hostile_date, hostile_date, value)
    if seen:  # a choice the page offered: it, or anything
        return st.one_of(st.just(seen), value)
    return value
