from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.lines import StatementLineError
from accounts.models import CashAccount
from accounts.statements.formats import LABELS, max_bytes
from accounts.statements.routing import AccountKey, NewAccount, StatementAccountsError
from accounts.statements.services import statement_import


class Command(BaseCommand):
    help = (
        "Import a statement file (Wise CSV, CAMT.053 XML or MT940). Each account the file "
        "names goes to the cash account holding its number; --account chooses the account "
        "of a one-account file, --map and --create-accounts place accounts Bulwark does not "
        "know. Lines already stored are skipped; a bad file is refused whole."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The statement file.")
        parser.add_argument(
            "--account", type=int, help="Cash account id, for a file holding one account."
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="IDENTIFIER:CURRENCY=ID",
            help="Put the file's account IDENTIFIER (IBAN or number) in CURRENCY into cash "
            "account ID (repeatable).",
        )
        parser.add_argument(
            "--create-accounts",
            action="store_true",
            help="Create a bank account for each account of the file Bulwark does not know.",
        )
        parser.add_argument(
            "--format", choices=sorted(LABELS), help="Skip detection: csv, camt053 or mt940."
        )

    def handle(self, *args: Any, path: Path, account: int | None, map: list[str],
               create_accounts: bool, format: str | None, **options: Any) -> None:  # fmt: skip
        cash_account = None
        if account is not None:
            cash_account = CashAccount.objects.filter(pk=account).first()
            if cash_account is None:
                raise CommandError(f"There is no cash account with id {account}.")
        mapping = self._mapping(map)
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        size = path.stat().st_size
        with path.open("rb") as handle:
            data = handle.read(max_bytes() + 1)  # an oversized file is refused, and recorded
        try:
            result = statement_import(
                data=data, filename=path.name, account=cash_account, mapping=mapping,
                format=format, size=size, create_accounts=create_accounts,
            )  # fmt: skip
        except StatementAccountsError as exc:
            hint = ""
            if exc.unknown:
                tokens = " ".join(f"--map {item.key.token}=ID" for item in exc.unknown)
                hint = f" Give each a home: {tokens}, or --create-accounts."
            raise CommandError(f"{path.name} refused: {exc}.{hint}") from exc
        except StatementLineError as exc:
            raise CommandError(f"{path.name} refused, nothing was stored. {exc}") from exc
        for item in result.accounts:
            created = " (new account)" if item.account_created else ""
            self.stdout.write(
                f"{path.name} ({LABELS[result.format]}) into {item.account}{created}: "
                f"{item.lines} lines, {item.created} new, {item.skipped} already present."
            )
            if item.gaps_opened:
                self.stdout.write(
                    f"  Lines are missing before or after this file for {item.account}; "
                    "the gap is listed on the Accounts page."
                )

    @staticmethod
    def _mapping(pairs: list[str]) -> dict[AccountKey, CashAccount | NewAccount]:
        mapping: dict[AccountKey, CashAccount | NewAccount] = {}
        for pair in pairs:
            token, _, target = pair.rpartition("=")
            key = AccountKey.from_token(token)
            if not key.identifier or len(key.currency) != 3 or not target.strip().isdigit():
                raise CommandError(f"--map {pair}: expected IDENTIFIER:CURRENCY=ACCOUNT_ID.")
            found = CashAccount.objects.filter(pk=int(target)).first()
            if found is None:
                raise CommandError(f"--map {pair}: there is no cash account with id {target}.")
            mapping[key] = found
        return mapping
