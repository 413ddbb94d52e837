"""Importing a statement file: parse it whole, give each of its accounts a home, then
store it all or nothing."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.lines import StatementLineError
from accounts.models import CashAccount, SyncRun
from accounts.signals import statement_imported
from accounts.statements.formats import SOURCES, ParsedAccount, ParsedFile, statement_parse
from accounts.statements.ingest import AccountImport, statement_account_store
from accounts.statements.routing import (
    AccountKey,
    NewAccount,
    StatementAccountsError,
    account_create,
    accounts_resolve,
    identifier_remember,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatementImportResult:
    run: SyncRun
    format: str
    accounts: list[AccountImport] = field(default_factory=list)
    pending_skipped: int = 0

    @property
    def lines(self) -> int:  # lines in the file (after folding fee lines into payments)
        return sum(item.lines for item in self.accounts)

    @property
    def created(self) -> int:
        return sum(item.created for item in self.accounts)

    @property
    def skipped(self) -> int:  # already stored: from the API, this file before, or another
        return sum(item.skipped for item in self.accounts)

    @property
    def opening_balance(self) -> Decimal | None:
        return self.accounts[0].opening_balance if len(self.accounts) == 1 else None

    @property
    def closing_balance(self) -> Decimal | None:
        return self.accounts[0].closing_balance if len(self.accounts) == 1 else None

    @property
    def first_day(self) -> date | None:
        return min((a.first_day for a in self.accounts if a.first_day), default=None)

    @property
    def last_day(self) -> date | None:
        return max((a.last_day for a in self.accounts if a.last_day), default=None)


def statement_import(
    *,
    data: bytes,
    filename: str,
    account: CashAccount | None = None,
    mapping: Mapping[AccountKey, CashAccount | NewAccount] | None = None,
    format: str | None = None,
    size: int | None = None,
    create_accounts: bool = False,
) -> StatementImportResult:
    """Import one statement file, recorded as a FILE_IMPORT sync run.

    The whole file is parsed and checked first (format, balances, every line) and its
    statements split by account. Each goes to the cash account holding its identifier;
    `account` is the owner's choice for a file of one account, `mapping` the choices
    (an account, or one to create) for accounts Bulwark does not know. Then every
    account's lines are stored and proved in one transaction (`ingest`). A refusal
    raises StatementLineError naming the line, or StatementAccountsError naming the
    accounts without a home, stores nothing, and leaves a FAILED run with the message.
    `size` is the upload's size when only its first bytes were read (a file too large);
    `create_accounts` makes a bank account for every account of the file still unknown.
    """
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.FILE_IMPORT,
        status=SyncRun.Status.RUNNING,
        account=account,
        label=filename[:200],
        detail={"format": format or "auto", "bytes": len(data) if size is None else size},
    )
    try:
        parsed = statement_parse(data=data, filename=filename, format=format, size=size)
        run.progress_total = len(parsed.lines)
        run.detail["format"] = parsed.format
        run.save(update_fields=["progress_total", "detail"])
        routes = accounts_resolve(
            accounts=[item.described() for item in parsed.accounts],
            account=account,
            mapping=mapping or {},
            create=create_accounts,
        )
        result = _store(run, parsed, routes, explicit=account)
    except (StatementLineError, StatementAccountsError) as exc:
        _run_finish(run, status=SyncRun.Status.FAILED, error=str(exc))
        raise
    except Exception:
        _run_finish(run, status=SyncRun.Status.FAILED, error="unexpected error; see the log")
        raise
    _run_record(run, result)
    for receiver, outcome in statement_imported.send_robust(
        sender=StatementImportResult, result=result, data=data, filename=filename
    ):
        if isinstance(outcome, Exception):  # the import stands; the receiver's own log
            logger.error("After importing %s, %s failed: %r", filename, receiver, outcome)
    return result


def _store(
    run: SyncRun,
    parsed: ParsedFile,
    routes: Mapping[AccountKey, CashAccount | NewAccount],
    *,
    explicit: CashAccount | None,
) -> StatementImportResult:
    """Every account of the file, in one transaction: accounts created, lines stored and
    proved, identifiers remembered."""
    imported = []
    with transaction.atomic():
        for item in parsed.accounts:
            target, created = routes[item.key], False
            if isinstance(target, NewAccount):
                target, created = account_create(key=item.key, new=target), True
            _currency_check(target, item)
            stored = statement_account_store(
                account=target, parsed=item, source=SOURCES[parsed.format], run=run
            )
            identifier_remember(account=target, key=item.key)
            imported.append(replace(stored, account_created=created))
    if explicit is None and len(imported) == 1:
        run.account = imported[0].account
    return StatementImportResult(
        run=run, format=parsed.format, accounts=imported, pending_skipped=parsed.pending_skipped
    )


def _currency_check(account: CashAccount, item: ParsedAccount) -> None:
    if item.key.currency != account.currency:
        first = item.lines[0] if item.lines else None
        line_no = first.line_no if first else item.line_no
        column = first.column if first else item.statements[0].column
        raise StatementLineError(
            line_no,
            f"currency {item.key.currency} does not match the account's currency "
            f"{account.currency}",
            column=column,
        )


def _run_record(run: SyncRun, result: StatementImportResult) -> None:
    run.detail = {
        **run.detail,
        "format": result.format,
        "first_day": result.first_day,
        "last_day": result.last_day,
        "pending_skipped": result.pending_skipped,
        "opening_balance": result.opening_balance,
        "closing_balance": result.closing_balance,
        "accounts": [
            {"id": item.account.pk, "name": str(item.account), "lines": item.lines,
             "created": item.created, "skipped": item.skipped,
             "closing_balance": item.closing_balance, "account_created": item.account_created,
             "gaps_opened": item.gaps_opened}
            for item in result.accounts
        ],
    }  # fmt: skip
    run.progress_done = result.lines
    run.created_count, run.skipped_count = result.created, result.skipped
    _run_finish(run, status=SyncRun.Status.SUCCEEDED)


def _run_finish(run: SyncRun, *, status: str, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save()
