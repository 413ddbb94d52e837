from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from archive.months import month_previous, month_start, months_between
from archive.statements import months_due, statements_file


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError as exc:
        raise CommandError(f"{text!r} is not a month (YYYY-MM)") from exc


class Command(BaseCommand):
    help = "File and prove every Wise balance's statements (the months just ended, or a range)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="First month, YYYY-MM (default: the months due).")
        parser.add_argument("--until", help="Last month, YYYY-MM (default: last month).")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.now().date()
        last_complete = month_previous(month_start(today))
        if options["since"]:
            until = _month(options["until"]) if options["until"] else last_complete
            if until > last_complete:
                raise CommandError(f"{until:%Y-%m} has not ended yet")
            months = months_between(_month(options["since"]), until)
        else:
            months = months_due(today)
        result = statements_file(months=months)
        for refusal in result.refused:
            self.stdout.write(self.style.WARNING(refusal))
        self.stdout.write(
            f"{result.months} account-months: {result.filed} documents filed, "
            f"{result.unchanged} already held; {result.agrees} agree, {result.differs} differ, "
            f"{result.unreadable} unreadable."
        )
