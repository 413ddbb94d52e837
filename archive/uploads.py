"""Statement files the owner imports on the statement upload page (a bank's CSV, CAMT.053
or MT940) filed in the archive as they came, under `Banking/<institution>/<currency>/`,
and proved like Wise's: the opening and closing balances the file states against
Bulwark's record of the account at the end of the day before its first day and of its
last day. A statement within one calendar month is that month's statement in the
completeness matrix; one spanning months is filed under its days, not proved per month.

Wise balances fed by the API are left out: their statements are fetched from Wise at
each month end. The same file imported again files nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from accounts.balances import balances_on
from accounts.models import CashAccount
from accounts.statements.ingest import AccountImport
from archive.layout import Naming
from archive.models import Function, Version
from archive.months import month_last_day, month_start
from archive.rules import extension_of
from archive.services import Filed, document_file
from archive.statements import FilingResult, proof_record
from treasury.money import InexactAmountError, to_minor

CONTENT_TYPES = {"csv": "text/csv", "xml": "application/xml", "pdf": "application/pdf"}


def upload_naming(account: CashAccount, first: date, last: date, extension: str) -> Naming:
    """`Banking/Deutsche-Bank/EUR/2026/2026-09-30_statement_deutsche-bank-eur_2026-09.csv`;
    an account sharing its bank and currency with another gets a folder and label of its
    own, as a Wise jar does. A statement over several months is named by its days."""
    institution = account.institution.name
    subject, label = f"{institution}/{account.currency}", f"{institution}-{account.currency}"
    twins = CashAccount.objects.filter(
        institution_id=account.institution_id, currency=account.currency
    ).exclude(pk=account.pk)
    if twins.exists():
        subject, label = f"{subject}/{account.name}", f"{label}-{account.name}"
    one_month = month_start(first) == month_start(last)
    if not one_month:
        label = f"{label}-{first.isoformat()}-to-{last.isoformat()}"
    return Naming(
        function=Function.BANKING, subject=subject, kind="statement", label=label,
        about_on=last, period=f"{first:%Y-%m}" if one_month else "", extension=extension,
    )  # fmt: skip


def _stated(item: AccountImport) -> tuple[tuple[int | None, int | None], str]:
    currency = item.account.currency
    if item.opening_balance is None or item.closing_balance is None:
        return (None, None), "The file states no opening or closing balance"
    try:
        return (
            to_minor(item.opening_balance, currency),
            to_minor(item.closing_balance, currency),
        ), ""
    except InexactAmountError as exc:
        return (None, None), str(exc)


def imported_statement_file(*, item: AccountImport, data: bytes, filename: str) -> Filed | None:
    """File one account's part of an imported statement file and prove it; None when
    there is nothing to file (a Wise balance fed by the API, or no dates)."""
    account = item.account
    if account.wise_balance_id is not None or item.first_day is None or item.last_day is None:
        return None
    first, last = item.first_day, item.last_day
    extension = extension_of(filename)
    one_month = month_start(first) == month_start(last)
    filed = document_file(
        naming=upload_naming(account, first, last, extension), data=data,
        content_type=CONTENT_TYPES.get(extension, "text/plain"), source=Version.Source.UPLOAD,
        account=account, period_start=month_start(first) if one_month else first,
        period_end=month_last_day(first) if one_month else last, original_name=filename,
    )  # fmt: skip
    if one_month:
        record = balances_on(on=first - timedelta(days=1), account_ids=[account.pk])[account.pk]
        closing = balances_on(on=last, account_ids=[account.pk])[account.pk]
        stated, problem = _stated(item)
        proof_record(
            account=account, month=month_start(first), version=filed.version, stated=stated,
            record=(record, closing), problem=problem, result=FilingResult(),
        )  # fmt: skip
    return filed


def on_statement_imported(sender: Any, *, result: Any, data: bytes, filename: str,
                          **kwargs: Any) -> None:  # fmt: skip
    """Receiver of `accounts.signals.statement_imported`: file every account's part."""
    for item in result.accounts:
        imported_statement_file(item=item, data=data, filename=filename)
