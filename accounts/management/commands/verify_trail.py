from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import CashAccount
from accounts.selectors import trail_verify


class Command(BaseCommand):
    help = "Recompute every account's hash chain; report the first broken link per account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, action="append", help="Cash account id.")

    def handle(self, *args: Any, **options: Any) -> None:
        results = trail_verify(account_ids=options["account"])
        names = dict(CashAccount.objects.values_list("pk", "name"))
        broken = 0
        for account_id, link in results.items():
            if link is None:
                self.stdout.write(f"account {account_id} ({names[account_id]}): chain holds")
                continue
            broken += 1
            self.stdout.write(
                self.style.ERROR(
                    f"account {account_id} ({names[account_id]}): BROKEN at line seq={link.seq}"
                    f" key={link.natural_key or '-'}: {link.reason}"
                )
            )
        if broken:
            raise CommandError(f"{broken} of {len(results)} account chains are broken.")
        self.stdout.write(self.style.SUCCESS(f"All {len(results)} account chains hold."))
