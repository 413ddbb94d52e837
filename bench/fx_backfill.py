"""First ECB fetch on an empty rates table: every day since 1999 from the ECB simulator
(in the throwaway database `manage.py bench` gives every benchmark)."""

from argparse import ArgumentParser
from typing import Any

from django.conf import settings

from bench._timing import stopwatch
from simulators.registry import build
from treasury.fx.models import Rate, Source
from treasury.fx.services import rates_fetch
from treasury.fx.sources.http import RatesHttp


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="Seed of the simulator's data.")


def run(*, stdout: Any, seed: int, **options: Any) -> dict[str, Any]:
    simulator = build("ecb", seed=seed)
    days = simulator.days()  # generated before the clock starts: the figure is Bulwark's
    previous_url = settings.ECB_URL
    with simulator:
        settings.ECB_URL = simulator.url
        try:
            stdout.write(f"Fetching {len(days):,} ECB days from {simulator.url} …")
            with stopwatch() as watch:
                outcome = rates_fetch(source=Source.ECB, http=RatesHttp())
        finally:
            settings.ECB_URL = previous_url
    stored = Rate.objects.filter(source=Source.ECB).count()
    stdout.write(outcome.message)
    return {
        "status": outcome.status,
        "mode": outcome.mode,
        "days": len(days),
        "rates": stored,
        "seconds": round(watch.seconds, 2),
        "rates_per_second": int(stored / watch.seconds) if watch.seconds else None,
    }
