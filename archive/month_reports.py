"""The month's reports the archive files at each month end, next to the statements:

- the balances export at the month's last day and the transactions export of the month,
  the same CSV files the accountant downloads from the dashboard (`treasury.cashview.
  exports`, called here, never copied), under `Books/Balances/` and `Books/Transactions/`;
- the reconciliation summary of the month (CSV, `Books/Reconciliation/`): per cash
  account, the lines matched to the books, the open mismatches by type and the balance
  check of the month's last checked day, then a row for all accounts.

Each file is made from the figures alone (no "generated at" stamp), so a rerun with
nothing changed files nothing, and an export that changed (a late line, a rate published
late, a mismatch resolved) is a new version naming the one it replaces. CSV only: an
XLSX workbook carries its creation time, so it would be a new version at every run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.db.models import Count, Q
from django.http import QueryDict

from accounts.models import CashAccount
from archive.layout import Naming
from archive.models import Function, Version
from archive.months import month_last_day
from archive.services import Filed, document_file
from ledger.reconciliation.models import BalanceCheck, Match, Mismatch
from ledger.reconciliation.selectors import proved_through_all
from treasury.cashview import exports
from treasury.cashview.forms import choices_parse
from treasury.cells import row_defuse
from treasury.money import from_minor

CSV_TYPE = "text/csv"
SUMMARY_KINDS = [value.lower().replace("_", "-") for value in Mismatch.Type.values]
SUMMARY_HEADER = [
    *("month", "account", "currency", "matched"),
    *(f"open_{kind}" for kind in SUMMARY_KINDS),
    *("balance_checked_on", "books_balance", "bank_balance", "balance_agrees"),
    "proved_through",
]


def _naming(subject: str, kind: str, month: date) -> Naming:
    return Naming(
        function=Function.BOOKS, subject=subject, kind=kind, about_on=month_last_day(month),
        period=f"{month:%Y-%m}", extension="csv",
    )  # fmt: skip


def _streamed(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def month_exports(*, month: date, today: date) -> list[tuple[Naming, bytes]]:
    """The month's balances and transactions exports, as the download gives them, with
    the dashboard's default choices (base currency, ECB, each line's own day's rate)."""
    end = month_last_day(month)
    choices, errors = choices_parse(QueryDict(f"as_of={end.isoformat()}"), today=today)
    if errors:
        raise ValueError(" ".join(errors))
    balances = exports.balances_response(choices=choices, fmt="csv")
    lines = exports.transactions_response(choices=choices, start=month, end=end, fmt="csv")
    return [
        (_naming("Balances", "balances", month), _streamed(balances)),
        (_naming("Transactions", "transactions", month), _streamed(lines)),
    ]


def reconciliation_summary_rows(*, month: date) -> Iterator[list[Any]]:
    """One row per cash account mapped to the books (or with a mismatch in the month),
    then `All accounts`: a fixed number of queries."""
    end = month_last_day(month)
    in_month = Q(day__gte=month, day__lte=end)
    matched: dict[int | None, int] = dict(
        Match.objects.filter(in_month, undone_at__isnull=True)
        .order_by().values_list("account_id").annotate(n=Count("id"))
    )  # fmt: skip
    opened: dict[tuple[int | None, str], int] = {
        (account_id, kind): n
        for account_id, kind, n in Mismatch.objects.filter(in_month, status=Mismatch.Status.OPEN)
        .order_by().values_list("account_id", "type").annotate(n=Count("id"))
    }  # fmt: skip
    checks: dict[int, BalanceCheck] = {}
    for check in BalanceCheck.objects.filter(in_month).order_by("account_id", "-day"):
        checks.setdefault(check.account_id, check)
    proved = proved_through_all()
    ids = set(matched) | {a for a, _ in opened} | set(checks)
    accounts = CashAccount.objects.filter(Q(pk__in=ids) | Q(books_mappings__isnull=False))
    for account in accounts.distinct().select_related("institution").order_by("currency", "pk"):
        check = checks.get(account.pk)
        through = proved.get(account.pk)
        yield [
            f"{month:%Y-%m}", f"{account.institution.name} {account.name}", account.currency,
            matched.get(account.pk, 0),
            *(opened.get((account.pk, kind), 0) for kind in Mismatch.Type.values),
            *_check_columns(check), through.isoformat() if through else "",
        ]  # fmt: skip
    yield [
        f"{month:%Y-%m}", "All accounts", "", sum(matched.values()),
        *(sum(n for (_, k), n in opened.items() if k == kind) for kind in Mismatch.Type.values),
        "", "", "", "", "",
    ]  # fmt: skip


def _check_columns(check: BalanceCheck | None) -> list[str]:
    if check is None:
        return ["", "", "", "not checked"]
    books, bank = (from_minor(m, check.currency) for m in (check.books_minor, check.wise_minor))
    return [check.day.isoformat(), f"{books:f}", f"{bank:f}", "yes" if books == bank else "no"]


def reconciliation_summary_csv(*, month: date) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SUMMARY_HEADER)
    for row in reconciliation_summary_rows(month=month):
        writer.writerow(row_defuse(row))
    return out.getvalue().encode()


def month_reports_file(*, month: date, today: date) -> list[Filed]:
    """File the month's exports and reconciliation summary; a rerun with the same
    figures files nothing, changed figures are a new version."""
    files = [
        *month_exports(month=month, today=today),
        (
            _naming("Reconciliation", "reconciliation-summary", month),
            reconciliation_summary_csv(month=month),
        ),
    ]
    return [
        document_file(
            naming=naming,
            data=data,
            content_type=CSV_TYPE,
            source=Version.Source.GENERATED,
            period_start=month,
            period_end=month_last_day(month),
        )
        for naming, data in files
    ]
