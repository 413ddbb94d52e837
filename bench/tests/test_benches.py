"""Every benchmark runs end to end at a tiny size and prints its figures as the final
JSON line, in a throwaway database. Speed itself is not asserted here (benchmarks
measure, tests check behaviour): this keeps the benchmarks from rotting."""

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from treasury.management.commands.bench import _available

# name, tiny options, keys the issue asks the final line to carry
BENCHES = [
    ("ingest", ["--n", "300"], {"seconds", "raw_seconds", "ratio"}),
    ("rules", ["--n", "300", "--rules", "5"], {"seconds", "lines_per_second"}),
    ("xero_push", ["--n", "60"], {"calls", "calls_per_1000", "retries_429", "seconds"}),
    ("reconcile", ["--n", "300"], {"seconds", "matched", "mismatches", "growth"}),
    ("dashboard", ["--sizes", "100,300", "--rounds", "1", "--renders", "1", "--years", "1"],
     {"queries"}),
    ("fbar", ["--accounts", "2", "--n", "200"], {"seconds", "aggregate_usd", "filing_required"}),
    ("fx_backfill", [], {"seconds", "rates"}),
    ("archive", ["--accounts", "6", "--months", "2", "--lines", "600"], {"seconds", "documents"}),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("name", "options", "keys"), BENCHES, ids=[b[0] for b in BENCHES])
def test_benchmark_prints_its_figures(name, options, keys, tmp_path):
    env = {**os.environ, "DEBUG": "true", "BULWARK_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "bench", name, *options],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["bench"] == name
    assert keys <= figures.keys()
    engine = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    assert re.fullmatch(rf"{engine} \d+\.\d+(\.\d+)?", figures["database"])
    assert 20 < figures["peak_rss_mib"] < 4096
    assert not (tmp_path / "bulwark.sqlite3").exists()  # never the configured database


@pytest.mark.parametrize(
    ("database_url", "databases"),
    [("", ["sqlite"]), ("postgres://postgres@127.0.0.1/x", ["sqlite", "postgresql"])],
)
def test_bench_all_runs_every_benchmark_on_each_database(database_url, databases):
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "bench-all"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    loops = re.search(r"for database in ([\w ]*); do.*for name in ([\w ]*); do", result.stdout,
                      re.DOTALL)  # fmt: skip
    assert loops is not None, result.stdout
    assert loops.group(1).split() == databases
    assert sorted(loops.group(2).split()) == _available()
