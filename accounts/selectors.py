"""Reads of money held."""

from collections.abc import Iterator
from datetime import date

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import CashAccount, DailyBalance, Transaction
from accounts.trail import CHAINED_FIELDS, BrokenLink, chain_verify


def cash_accounts_with_balance(*, on: date) -> QuerySet[CashAccount]:
    """Every cash account annotated with `balance_minor` at the end of `on` (one query).

    The balance is the closing of the latest daily row on or before the day, or the
    opening balance when the account had no activity by then.
    """
    latest = DailyBalance.objects.filter(account=OuterRef("pk"), date__lte=on).order_by("-date")
    return CashAccount.objects.select_related("institution").annotate(
        balance_minor=Coalesce(
            Subquery(latest.values("closing_minor")[:1]), F("opening_balance_minor")
        )
    )


def balance_minor_on(account: CashAccount, on: date) -> int:
    row = (
        DailyBalance.objects.filter(account=account, date__lte=on)
        .order_by("-date")
        .values_list("closing_minor", flat=True)
        .first()
    )
    return account.opening_balance_minor if row is None else row


def trail_verify(*, account_ids: list[int] | None = None) -> dict[int, BrokenLink | None]:
    """Recompute every chain; per account, its first broken link or None."""
    accounts = CashAccount.objects.order_by("pk")
    if account_ids:
        accounts = accounts.filter(pk__in=account_ids)
    return {account.pk: _account_chain_verify(account) for account in accounts}


def _account_chain_verify(account: CashAccount) -> BrokenLink | None:
    rows: Iterator[dict] = (
        Transaction.objects.filter(account=account)
        .order_by("seq")
        .values(*CHAINED_FIELDS, "digest", "prev_digest")
        .iterator(chunk_size=5000)
    )
    return chain_verify(account.pk, rows, account.chain_head, account.chain_length)
