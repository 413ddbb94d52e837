from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import CashAccount, StatementCursor, SyncRun, WiseConnection
from accounts.wise.sync import wise_account_sync, wise_connection_sync
from treasury.money import from_minor, money_format


class Command(BaseCommand):
    help = "Sync Wise now: balances and statements of every connection, or of one account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, help="Cash account id: only its statements.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["account"]:
            account = CashAccount.objects.filter(pk=options["account"]).first()
            if account is None or account.wise_balance_id is None:
                raise CommandError(f"No Wise cash account with id {options['account']}.")
            runs = [wise_account_sync(account=account)]
        else:
            connections = list(WiseConnection.objects.all())
            if not connections:
                raise CommandError("No Wise connection: connect one on the Accounts page.")
            runs = []
            for connection in connections:
                self.stdout.write(f"{connection}:")
                parent = wise_connection_sync(connection=connection)
                children = SyncRun.objects.filter(pk__in=parent.detail.get("children", []))
                runs.extend(children.select_related("account").order_by("pk"))
                if parent.status == SyncRun.Status.FAILED and not children:
                    runs.append(parent)
        for run in runs:
            self.stdout.write("  " + self._describe(run))
        failed = [run for run in runs if run.status == SyncRun.Status.FAILED]
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} syncs failed.")
        created = sum(run.created_count for run in runs)
        self.stdout.write(self.style.SUCCESS(f"Done: {created} new lines stored."))

    def _describe(self, run: SyncRun) -> str:
        name = str(run.account) if run.account else run.label
        if run.status == SyncRun.Status.SKIPPED:
            return f"{name}: skipped ({run.error})"
        if run.status == SyncRun.Status.FAILED:
            return self.style.ERROR(f"{name}: FAILED: {run.error}")
        text = f"{name}: {run.created_count} new, {run.skipped_count} already stored"
        cursor = StatementCursor.objects.filter(account=run.account).first()
        if cursor and cursor.proof_wise_minor is not None and run.account:
            balance = money_format(
                from_minor(cursor.proof_wise_minor, run.account.currency), run.account.currency
            )
            if cursor.proof_status == StatementCursor.Proof.OK:
                text += f"; balance proved: {balance}"
            else:
                text += self.style.WARNING(
                    f"; BALANCE DIFFERS: Wise {balance}, stored lines "
                    + money_format(
                        from_minor(cursor.proof_stored_minor or 0, run.account.currency),
                        run.account.currency,
                    )
                )
        return text
