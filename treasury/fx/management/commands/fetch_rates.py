"""`python manage.py fetch_rates [--source ECB|TREASURY|WISE] [--since YYYY-MM-DD]`."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import SyncRun
from treasury.fx.services import FETCHED_SOURCES, rates_fetch


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--since {text!r} is not a date like 2024-01-31") from exc


class Command(BaseCommand):
    help = (
        "Fetch exchange rates and store what is new. Without --source: ECB, Treasury, and "
        "Wise when connected. The first ECB run backfills every day since 1999."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source", action="append", choices=[str(s) for s in FETCHED_SOURCES],
            help="Source to fetch (repeatable); default: all.",
        )  # fmt: skip
        parser.add_argument(
            "--since", type=_date,
            help="Fetch again from this date (ECB: rates on or after it; Treasury: reports).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        failed = []
        for source in options["source"] or FETCHED_SOURCES:
            self.stdout.write(f"{source}: fetching…")
            outcome = rates_fetch(source=source, since=options["since"])
            line = f"{source}: {outcome.message}"
            if outcome.status == SyncRun.Status.SUCCEEDED:
                self.stdout.write(self.style.SUCCESS(f"{line} in {outcome.seconds:.1f} s"))
            elif outcome.status == SyncRun.Status.SKIPPED:
                self.stdout.write(self.style.WARNING(f"{line} (skipped)"))
            else:
                self.stderr.write(self.style.ERROR(line))
                failed.append(source)
        if failed:
            raise CommandError(f"Failed: {', '.join(failed)}; nothing was stored for them.")
