from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger import services


class Command(BaseCommand):
    help = "Post unposted lines to Xero (--push) and read the books back (--pull); both by default."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--push", action="store_true", help="Post lines to Xero.")
        parser.add_argument("--pull", action="store_true", help="Read the books back.")
        parser.add_argument("--limit", type=int, default=None, help="Post at most N new lines.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisations = services.organisations_connected()
        if not organisations:
            raise CommandError("Xero is not connected: connect it on the Books page first.")
        both = not options["push"] and not options["pull"]
        for organisation in organisations:
            if options["push"] or both:
                run = services.books_push(organisation_id=organisation.pk, limit=options["limit"])
                self._report("push", run)
            if options["pull"] or both:
                self._report("pull", services.books_pull(organisation_id=organisation.pk))

    def _report(self, name: str, run: Any) -> None:
        detail = run.detail or {}
        reason = detail.get("reason") or run.error
        figures = ", ".join(
            f"{key} {detail[key]}"
            for key in ("posted", "updated", "refused", "found", "waiting", "stored", "calls")
            if key in detail
        )
        self.stdout.write(
            f"{name}: {run.get_status_display()}"
            f"{' · ' + figures if figures else ''}{' · ' + reason if reason else ''}"
        )
