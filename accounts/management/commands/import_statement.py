from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.lines import StatementLineError
from accounts.models import CashAccount
from accounts.statements.formats import LABELS, max_bytes
from accounts.statements.services import statement_import


class Command(BaseCommand):
    help = (
        "Import a statement file (Wise CSV, CAMT.053 XML or MT940) into a cash account. "
        "Lines already stored are skipped; a bad file is refused whole."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The statement file.")
        parser.add_argument("--account", type=int, required=True, help="Cash account id.")
        parser.add_argument(
            "--format", choices=sorted(LABELS), help="Skip detection: csv, camt053 or mt940."
        )

    def handle(self, *args: Any, path: Path, account: int, format: str | None,
               **options: Any) -> None:  # fmt: skip
        cash_account = CashAccount.objects.filter(pk=account).first()
        if cash_account is None:
            raise CommandError(f"There is no cash account with id {account}.")
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        if path.stat().st_size > max_bytes():
            raise CommandError(
                f"{path}: the file is {path.stat().st_size:,} bytes; the limit is "
                f"{max_bytes():,} bytes."
            )
        try:
            result = statement_import(
                account=cash_account, data=path.read_bytes(), filename=path.name, format=format
            )
        except StatementLineError as exc:
            raise CommandError(f"{path.name} refused, nothing was stored. {exc}") from exc
        self.stdout.write(
            f"{path.name} ({LABELS[result.format]}) into {cash_account}: {result.lines} lines, "
            f"{result.created} new, {result.skipped} already present."
        )
