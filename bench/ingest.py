"""Ingest: N Wise statement lines through the real sync path, against a raw bulk insert.

The real path is what a first sync does: the Wise client fetches statements from the
simulator over loopback HTTP, the lines are parsed (Decimal), normalised, validated,
de-duplicated, hash-chained and stored with their daily balances (by `COPY` on
PostgreSQL), then the balance is proved. The raw path inserts the very same rows
(already built, digests and all) into fresh accounts with Django's bulk insert
(`bulk_create`). `ratio` = seconds / raw_seconds: the cost of a sync against the cost of
merely writing its rows the usual Django way. `raw_sql_seconds` is the floor: the same
rows through one plain SQL `INSERT` run by `executemany`, on every backend;
`ratio_to_raw_sql` says what everything else costs (HTTP, JSON, normalising,
validating, the hash chain, daily balances, the proof). The simulator serves from JSON
it encoded beforehand and does not check its own replies against Wise's description
(the test suite does): neither is work Bulwark does.

It runs in the throwaway database `manage.py bench` gives every benchmark.
"""

import cProfile
import gc
import time
from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import transaction

from bench._timing import Stopwatch, stopwatch

# Fields copied from the stored rows into the raw insert (all but id and account).
COPIED = (
    "seq", "natural_key", "booked_at", "booked_on", "direction", "currency", "amount_minor",
    "fee_minor", "running_balance_minor", "wise_type", "description", "counterparty",
    "reference_number", "payment_reference", "counter_currency", "counter_amount_minor",
    "fx_rate", "source", "raw", "prev_digest", "digest", "created_at",
)  # fmt: skip


@contextmanager
def cpu_watch() -> Iterator[Stopwatch]:
    """CPU seconds of this process (all threads) spent inside the block."""
    watch = Stopwatch()
    start = time.process_time()
    try:
        yield watch
    finally:
        watch.seconds = time.process_time() - start


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=100_000, help="Statement lines to store.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the simulated business.")
    parser.add_argument(
        "--profile", default="", help="Write a cProfile of the timed sync to this file."
    )


def run(*, stdout: Any, n: int, seed: int, profile: str, **options: Any) -> dict[str, Any]:
    debug, settings.DEBUG = settings.DEBUG, False  # as in production: no query log
    try:
        return _measure(stdout, n, seed, profile)
    finally:
        settings.DEBUG = debug


def _simulator(n: int, seed: int) -> Any:
    from simulators.wise.generator import PROFILE_BUSINESS
    from simulators.wise.server import WiseSimulator

    size = n
    for _ in range(3):  # the generator's size is approximate: aim a little over N
        simulator = WiseSimulator(seed=seed, size=size)
        lines = sum(len(b.lines) for b in simulator.balances_of(PROFILE_BUSINESS))
        if lines >= n:
            break
        size = size * (n + n // 50) // max(lines, 1)
    simulator.business.trim(n, PROFILE_BUSINESS)  # then exactly N
    simulator.encode_all()  # what a real server has ready: its JSON is not our cost
    # Nor is its checking of its own replies against Wise's published description: that
    # is the test suite's guard (the sync's tests run with it on), and in this process it
    # would hold the GIL over every statement page for as long as the client reads it.
    simulator.contracts = ()
    # The simulated business is millions of objects a real worker does not hold: out of
    # the garbage collector's sight, or each collection of the sync's garbage walks them.
    gc.collect()
    gc.freeze()
    return simulator.start()


@contextmanager
def _profiled(path: str) -> Iterator[None]:
    """cProfile of the block (this thread: the client's side) into `path`, when given."""
    if not path:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


def _measure(stdout: Any, n: int, seed: int, profile_to: str) -> dict[str, Any]:
    from accounts.models import CashAccount, Transaction, WiseConnection
    from accounts.services import _transactions_insert
    from accounts.wise import sync as wise_sync
    from accounts.wise.client import WiseProfile
    from accounts.wise.services import ConnectionSecrets, wise_connection_save
    from simulators.wise.generator import PROFILE_BUSINESS
    from simulators.wise.server import SIM_TOKEN

    simulator = _simulator(n, seed)
    settings.WISE_API_URL = simulator.url
    try:
        profile = WiseProfile(id=PROFILE_BUSINESS, type="BUSINESS", name="Bench")
        wise = wise_connection_save(
            profile=profile,
            environment=WiseConnection.Environment.LIVE,
            secrets=ConnectionSecrets(api_token=SIM_TOKEN),
        )
        stdout.write(f"Syncing {simulator.line_count} simulated lines over HTTP…")
        with stopwatch() as real, cpu_watch() as real_cpu, _profiled(profile_to):
            run = wise_sync.wise_connection_sync(connection=wise)
        if run.status != "SUCCEEDED":
            raise RuntimeError(f"The sync failed: {run.error}")
    finally:
        simulator.stop()
    stored = Transaction.objects.count()
    stdout.write(f"Stored {stored} lines in {real.seconds:.2f} s; now the raw bulk insert…")

    objects = [Transaction(**row) for row in _copies(CashAccount, Transaction, "raw")]
    with stopwatch() as raw, cpu_watch() as raw_cpu, transaction.atomic():
        Transaction.objects.bulk_create(objects, batch_size=2000)
    rows = _copies(CashAccount, Transaction, "sql")
    with stopwatch() as floor, cpu_watch() as floor_cpu, transaction.atomic():
        _transactions_insert(rows, copy=False)  # the plain SQL insert, on every backend
    return {
        "lines": stored,
        "seconds": round(real.seconds, 3),
        "raw_seconds": round(raw.seconds, 3),
        "ratio": round(real.seconds / raw.seconds, 3),
        "raw_sql_seconds": round(floor.seconds, 3),
        "ratio_to_raw_sql": round(real.seconds / floor.seconds, 3),
        "lines_per_second": round(stored / real.seconds),
        # CPU time of this process (both threads: client and simulator): steadier than
        # the wall clock on a machine shared with other work.
        "cpu_seconds": round(real_cpu.seconds, 3),
        "raw_cpu_seconds": round(raw_cpu.seconds, 3),
        "cpu_ratio": round(real_cpu.seconds / raw_cpu.seconds, 3),
        "raw_sql_cpu_seconds": round(floor_cpu.seconds, 3),
        # On SQLite the database works inside this process, so this is the whole cost on
        # both sides; PostgreSQL's own work is not in it (read `ratio_to_raw_sql` there).
        "cpu_ratio_to_raw_sql": round(real_cpu.seconds / floor_cpu.seconds, 3),
    }


def _copies(cash_account: Any, transaction_model: Any, prefix: str) -> list[dict[str, Any]]:
    """The stored Wise lines as row values, re-homed to fresh accounts (one per account)."""
    from accounts.trail import raw_json

    rows = []
    for account in cash_account.objects.filter(wise_balance_id__isnull=False):
        fresh = cash_account.objects.create(
            institution=account.institution, name=f"{prefix} {account.name}",
            currency=account.currency,
        )  # fmt: skip
        lines = transaction_model.objects.filter(account=account).values(*COPIED)
        rows.extend(
            {**values, "account_id": fresh.pk, "raw": raw_json(values["raw"])}
            if prefix == "sql"
            else {**values, "account_id": fresh.pk}
            for values in lines.iterator()
        )
    return rows
