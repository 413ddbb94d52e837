"""`python manage.py reconcile [--account ID]`: reconcile now and print what was found."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import CashAccount
from ledger.models import BankAccountMapping
from ledger.reconciliation import services
from ledger.reconciliation.models import Match, Mismatch


class Command(BaseCommand):
    help = "Reconcile Wise against Xero now; prints matches by method and mismatches by type."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, help="Only this cash account (its id).")

    def handle(self, *args: Any, **options: Any) -> None:
        account_id = options["account"]
        if account_id is not None:
            if not CashAccount.objects.filter(pk=account_id).exists():
                raise CommandError(f"No cash account with id {account_id}.")
            organisation_ids = list(
                BankAccountMapping.objects.filter(cash_account_id=account_id).values_list(
                    "organisation_id", flat=True
                )
            )
            if not organisation_ids:
                raise CommandError(
                    f"Cash account {account_id} is not mapped to a Xero bank account; "
                    "map it on the Books page first."
                )
        else:
            organisation_ids = [o.pk for o in services.organisations_reconcilable()]
            if not organisation_ids:
                raise CommandError(
                    "Nothing to reconcile: connect Xero and map your cash accounts first."
                )
        for organisation_id in organisation_ids:
            run = services.reconcile(
                organisation_id=organisation_id,
                account_ids=[account_id] if account_id is not None else None,
            )
            self._report(run)

    def _report(self, run: Any) -> None:
        detail = run.detail or {}
        if run.status != "SUCCEEDED":
            reason = detail.get("reason") or run.error
            raise CommandError(f"Reconciliation {run.get_status_display().lower()}: {reason}")
        methods = dict(Match.Method.choices)
        types = dict(Mismatch.Type.choices)
        seconds = sum(detail.get("timings", {}).values())
        self.stdout.write(
            f"{run.label}: {detail['lines']} Wise lines against {detail['entries']} Xero "
            f"entries in {seconds:.2f} s"
        )
        matches = detail.get("matches", {})
        self.stdout.write(
            "Matches: "
            + (", ".join(f"{methods[m]} {matches[m]}" for m in methods if m in matches) or "none")
        )
        mismatches = detail.get("mismatches", {})
        self.stdout.write(
            "Open mismatches: "
            + (", ".join(f"{types[t]} {mismatches[t]}" for t in types if t in mismatches) or "none")
        )
        self.stdout.write(
            f"This run: {detail['opened']} found, {detail['changed']} changed, "
            f"{detail['reopened']} reopened, {detail['resolved']} resolved"
        )
