"""Render the dashboard at 1,000, 100,000 and 1,000,000 lines: `python manage.py bench
dashboard`.

Each size gets its own throwaway database (created and destroyed here, never the live
one): 8 cash accounts in 5 currencies, 3 years of lines inserted in bulk and their daily
balances refreshed as every import does (not timed), ECB rates from the ECB simulator's
data. The timed part is the whole page through Django's test client, signed in as the
owner (middleware, status panel and template included).

The machine is shared, so the sizes are measured in turns: each round visits every
database, renders once to warm its connection, then times a few renders; the figure per
size is the median over all rounds. Load that comes and goes hits every size alike, and
the ratio between sizes stays meaningful. CPU time of this process (SQLite runs inside
it) is reported beside wall time.
"""

import shutil
import statistics
import tempfile
import time
from argparse import ArgumentParser
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench._timing import stopwatch

NAMES = {1_000: "1k", 100_000: "100k", 1_000_000: "1m"}


# Several databases (one per size); it makes and drops them itself.
SCRATCH = False


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--sizes", default="1000,100000,1000000", help="line counts, comma separated"
    )
    parser.add_argument("--rounds", type=int, default=8, help="turns over the sizes")
    parser.add_argument("--renders", type=int, default=3, help="timed renders per turn")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)


def _name(size: int) -> str:
    return NAMES.get(size, str(size))


def _build(stdout: Any, size: int, years: int, seed: int) -> Client:
    """Fill the current database with `size` lines; a client signed in to it."""
    from treasury.cashview.tests.data import ACCOUNTS, accounts_make, ecb_rates, history_bulk
    from treasury.services import user_create_owner

    today = timezone.localdate()
    start = today - timedelta(days=365 * years)
    owner = user_create_owner(username="bench", email="bench@example.com", password=None)
    codes = {currency for _, _, currency, _ in ACCOUNTS}
    with stopwatch() as build:
        accounts = accounts_make(ACCOUNTS)
        ecb_rates(start=start - timedelta(days=30), end=today, codes=codes, seed=seed)
        history_bulk(accounts, lines=size, start=start, end=today, seed=seed)
    stdout.write(f"{size:>9,} lines over {len(accounts)} accounts: built in {build.seconds:.1f} s")
    client = Client(SERVER_NAME="localhost")  # an allowed host outside the test runner
    client.force_login(owner)
    return client


def _render(client: Client) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    response = client.get("/")
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert response.status_code == 200, response.status_code
    return wall * 1000, cpu * 1000


def _use(database: str) -> None:
    connection.close()
    connection.settings_dict["NAME"] = database


def run(
    *, stdout: Any, sizes: str, rounds: int, renders: int, years: int, seed: int, **_: Any
) -> dict[str, Any]:
    counts = [int(size) for size in sizes.split(",")]
    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    scratch = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    settings_dict.setdefault("TEST", {})
    databases: dict[int, str] = {}
    clients: dict[int, Client] = {}
    try:
        for size in counts:
            settings_dict["NAME"] = original
            settings_dict["TEST"]["NAME"] = (
                str(scratch / f"{size}.sqlite3")
                if connection.vendor == "sqlite"
                else f"bench_dashboard_{size}_{original}"
            )
            databases[size] = connection.creation.create_test_db(
                verbosity=0, autoclobber=True, serialize=False
            )
            clients[size] = _build(stdout, size, years, seed)
        wall: dict[int, list[float]] = {size: [] for size in counts}
        cpu: dict[int, list[float]] = {size: [] for size in counts}
        queries: dict[int, int] = {}
        for _ in range(rounds):
            for size in counts:
                _use(databases[size])
                _render(clients[size])  # warms this connection
                for _ in range(renders):
                    ms, cpu_ms = _render(clients[size])
                    wall[size].append(ms)
                    cpu[size].append(cpu_ms)
                with CaptureQueriesContext(connection) as captured:
                    _render(clients[size])
                queries[size] = len(captured.captured_queries)
    finally:
        for database in databases.values():
            _use(database)
            connection.creation.destroy_test_db(original, verbosity=0)
        shutil.rmtree(scratch, ignore_errors=True)
    figures: dict[str, Any] = {}
    for size in counts:
        figures[f"ms_{_name(size)}"] = round(statistics.median(wall[size]), 1)
        stdout.write(
            f"{size:>9,} lines: median {figures[f'ms_{_name(size)}']} ms "
            f"({statistics.median(cpu[size]):.1f} ms CPU) over {len(wall[size])} renders, "
            f"{queries[size]} queries"
        )
    for size in counts:
        figures[f"cpu_ms_{_name(size)}"] = round(statistics.median(cpu[size]), 1)
    first, last = _name(counts[0]), _name(counts[-1])
    distinct = set(queries.values())
    return {
        **figures,
        "queries": distinct.pop() if len(distinct) == 1 else queries,
        f"ratio_{last}_{first}": round(figures[f"ms_{last}"] / figures[f"ms_{first}"], 2),
        f"cpu_ratio_{last}_{first}": round(
            figures[f"cpu_ms_{last}"] / figures[f"cpu_ms_{first}"], 2
        ),
        "renders_per_size": rounds * renders,
        "accounts": 8,
        "years": years,
    }
