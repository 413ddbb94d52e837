"""The archive's month ends: `python manage.py bench archive --accounts 20 --months 36`.

Runs in the throwaway database `manage.py bench` gives every benchmark, with the files
in a throwaway folder. Setup, not timed: the Wise simulator on loopback with the
business's five balances and jars copied from them up to `--accounts` balances, then one
real Wise sync into Bulwark (lines, hash chains, daily balances).

Timed: `archive.statements.statements_file` for every month: each balance's statement
fetched over HTTP as PDF and CAMT.053, stored by SHA-256, filed under the layout, its
balances read from the CAMT twin and proved against `accounts.balances`. Then, timed
apart: the same month ends again (they must file nothing), and `verify_archive`'s work
(every file read back and hashed, the chain recomputed).
"""

from __future__ import annotations

import copy
import tempfile
from argparse import ArgumentParser
from datetime import UTC, date, datetime
from typing import Any

from django.test import override_settings

from bench._timing import stopwatch

JAR_PREFIX = "Reserve"


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=20, help="Wise balances (5 or more).")
    parser.add_argument("--months", type=int, default=36, help="Months of statements.")
    parser.add_argument("--lines", type=int, default=6000, help="Lines of the business.")
    parser.add_argument("--seed", type=int, default=5)


def _balances_grow(sim: Any, count: int) -> None:
    """Jars copied line for line from the business's balances, up to `count` balances."""
    from simulators.wise.generator import PROFILE_BUSINESS, Balance

    business = sim.balances_of(PROFILE_BUSINESS)
    for n in range(max(count - len(business), 0)):
        source = business[n % len(business)]
        jar = Balance(
            72_000 + n, PROFILE_BUSINESS, source.currency, "SAVINGS", f"{JAR_PREFIX} {n + 1:02d}",
            source.created,
        )  # fmt: skip
        for moment, line in zip(source.times, source.lines, strict=True):
            jar.add(moment, copy.deepcopy(line))
        sim.business.balances.append(jar)


def run(
    *, stdout: Any, accounts: int, months: int, lines: int, seed: int, **_: Any
) -> dict[str, Any]:
    from accounts.models import CashAccount, WiseConnection
    from accounts.wise.client import WiseProfile
    from accounts.wise.services import ConnectionSecrets, wise_connection_save
    from accounts.wise.sync import wise_connection_sync
    from archive.months import month_next, months_between
    from archive.selectors import archive_verify
    from archive.statements import statements_file
    from simulators.wise.generator import PROFILE_BUSINESS
    from simulators.wise.server import SIM_TOKEN, WiseSimulator

    first = date(2023, 1, 1)
    month_list = months_between(first, first)
    while len(month_list) < months:
        month_list.append(month_next(month_list[-1]))
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    until = datetime.combine(month_next(month_list[-1]), datetime.min.time(), tzinfo=UTC)
    sim = WiseSimulator(seed=seed, start=start, until=until, size=lines)
    # Wise allows 1,000 requests a minute per token: a 36-month backfill of 20 balances
    # (1,440 files) waits on it for at least 90 s. The limit is lifted so the figure is
    # what Bulwark costs; a month end itself is 2 requests per balance.
    sim.limit_per_minute = 1_000_000
    sim.start()
    folder = tempfile.mkdtemp(prefix="bench-archive-")
    try:
        _balances_grow(sim, accounts)
        sim.encode_all()
        profile = next(p for p in sim.business.profiles if p.id == PROFILE_BUSINESS)
        with override_settings(MEDIA_ROOT=folder, WISE_API_URL=sim.url):
            with stopwatch() as setup:
                connection = wise_connection_save(
                    profile=WiseProfile(id=profile.id, type=profile.type, name=profile.full_name),
                    environment=WiseConnection.Environment.LIVE,
                    secrets=ConnectionSecrets(api_token=SIM_TOKEN),
                )
                connection.sync_start = first  # the whole history, not the default window
                connection.save(update_fields=["sync_start"])
                wise_connection_sync(connection=connection)
            held = CashAccount.objects.filter(wise_balance_id__isnull=False).count()
            stdout.write(f"setup: {held} balances synced in {setup.seconds:.1f} s\n")
            with stopwatch() as timed:
                result = statements_file(months=month_list)
            with stopwatch() as rerun:
                again = statements_file(months=month_list)
            with stopwatch() as verify:
                problems = archive_verify()
    finally:
        sim.stop()
    stdout.write(
        f"{result.months} account-months: {result.filed} documents filed in "
        f"{timed.seconds:.1f} s; rerun filed {again.filed} in {rerun.seconds:.1f} s; "
        f"verify {verify.seconds:.1f} s\n"
    )
    return {
        "seconds": round(timed.seconds, 2),
        "documents": result.filed,
        "accounts": held,
        "account_months": result.months,
        "agree": result.agrees,
        "differ": result.differs,
        "refused": len(result.refused),
        "rerun_seconds": round(rerun.seconds, 2),
        "rerun_filed": again.filed,
        "verify_seconds": round(verify.seconds, 2),
        "verify_problems": len(problems),
    }
