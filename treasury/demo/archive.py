"""The demo's archive: every Wise balance's statements from the start of the demo's span
to last month, filed and proved as the month ends would have, with the story's two
findings planted: one month missing (the GBP balance, seven months ago: a month end
the worker missed) and one statement that differs from the record (the EUR balance,
four months ago: Wise's statement left out a line it still counts in the balance, as it
does with a line booked late under an earlier date).

Imported by `steps`; importing the steps here would be circular.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.models import CashAccount
from archive.models import StatementProof
from archive.months import month_previous, month_start, months_between
from archive.reports import fbar_worksheet_file
from archive.statements import statements_file
from ledger.reconciliation.models import Mismatch
from simulators.wise.generator import PROFILE_BUSINESS

if TYPE_CHECKING:
    from datetime import date

    from treasury.demo.steps import Context

HOLE_MONTHS_AGO = 7
DIFFERENCE_MONTHS_AGO = 4


def _months_ago(today: date, count: int) -> date:
    month = month_start(today)
    for _ in range(count):
        month = month_previous(month)
    return month


def _balance(currency: str) -> CashAccount | None:
    return CashAccount.objects.filter(
        wise_profile_id=PROFILE_BUSINESS, currency=currency, kind=CashAccount.Kind.STANDARD
    ).first()


def archive_file(ctx: Context) -> str:
    months = months_between(ctx.start, _months_ago(ctx.today, 1))
    hole = _months_ago(ctx.today, HOLE_MONTHS_AGO)
    gbp, eur = _balance("GBP"), _balance("EUR")
    wise = list(
        CashAccount.objects.filter(wise_profile_id=PROFILE_BUSINESS, wise_balance_id__isnull=False)
    )
    differing = _months_ago(ctx.today, DIFFERENCE_MONTHS_AGO)
    result = statements_file(months=[m for m in months if m not in (hole, differing)])
    others = [a.pk for a in wise if gbp is None or a.pk != gbp.pk]
    statements_file(months=[hole], account_ids=others)
    planted = ""
    if ctx.wise is not None and eur is not None:
        left_out = next(
            (
                line["referenceNumber"]
                for line in ctx.wise.business.balance(eur.wise_balance_id).lines  # type: ignore[union-attr,arg-type]
                if line["date"].startswith(f"{differing:%Y-%m}") and line["amount"]["value"] > 0
            ),
            None,
        )
        if left_out:
            ctx.wise.hidden_refs.add(left_out)
            try:
                statements_file(months=[differing], account_ids=[eur.pk])
            finally:
                ctx.wise.hidden_refs.discard(left_out)
            planted = f", {differing:%Y-%m} EUR differs"
    statements_file(months=[differing], account_ids=[a.pk for a in wise if not planted or a != eur])
    worksheets = fbar_worksheet_file(year=ctx.today.year - 1, today=ctx.today)
    if worksheets:
        planted += f", FBAR {ctx.today.year - 1} worksheet"
    return (
        f"{StatementProof.objects.count()} months filed and proved "
        f"({result.filed} documents in the main run); {hole:%Y-%m} GBP missing{planted}"
    )


def archive_done(ctx: Context) -> bool:
    last = _months_ago(ctx.today, 1)
    accounts = CashAccount.objects.filter(
        wise_profile_id=PROFILE_BUSINESS, wise_balance_id__isnull=False
    ).count()
    filed = StatementProof.objects.filter(month=last).count() == accounts > 0
    planted = ctx.wise is None or Mismatch.objects.filter(type="STATEMENT_DIFFERS").exists()
    return filed and planted
