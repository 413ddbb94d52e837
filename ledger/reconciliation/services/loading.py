"""What a reconciliation run covers (its scope) and loads: the Wise lines of the
mapped cash accounts and the live entries the books hold on their bank accounts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from accounts.models import Transaction
from ledger.books.keys import posting_key_parse
from ledger.models import (
    BankAccountMapping,
    ChartAccount,
    LedgerEntry,
    Organisation,
    Posting,
)
from ledger.reconciliation import matcher
from ledger.rules.models import Categorization
from ledger.selectors import connection_current

DEAD_STATUSES = LedgerEntry.DEAD_STATUSES
EXCLUDE = "EXCLUDE"


# --- scope -------------------------------------------------------------------------------


@dataclass
class Scope:
    """The bank accounts ("books") a run covers and the cash accounts mapped to them."""

    books: dict[str, ChartAccount]  # the books' id of the bank account → account
    accounts: dict[int, str]  # cash account id → Xero AccountID
    full: bool

    def book_account(self) -> dict[str, int]:
        """Each book's first cash account: where its entry-side mismatches are filed."""
        first: dict[str, int] = {}
        for account_id in sorted(self.accounts):
            first.setdefault(self.accounts[account_id], account_id)
        return first


def scope_of(organisation: Organisation, account_ids: Iterable[int] | None = None) -> Scope:
    mappings = list(
        BankAccountMapping.objects.filter(organisation=organisation).select_related("chart_account")
    )
    wanted = set(account_ids) if account_ids else None
    books = {
        m.chart_account.account_id: m.chart_account
        for m in mappings
        if wanted is None or m.cash_account_id in wanted
    }
    accounts = {
        m.cash_account_id: m.chart_account.account_id
        for m in mappings
        if m.chart_account.account_id in books
    }
    return Scope(books=books, accounts=accounts, full=wanted is None)


def organisations_reconcilable() -> list[Organisation]:
    """The organisation of the current connection to the books, once it has mapped
    accounts."""
    current = connection_current()
    organisation = current.organisation if current is not None else None
    if organisation is None or not organisation.mappings.exists():
        return []
    return [organisation]


def lines_load(
    organisation: Organisation, scope: Scope, grace: datetime
) -> dict[int, matcher.Line]:
    """The lines of the scope's cash accounts. Required in Xero: not excluded by its
    categorization, not before the organisation's first posted day, stored before the
    last read-back (which could have seen it) and longer ago than the grace."""
    rows = (
        Transaction.objects.filter(account_id__in=list(scope.accounts))
        .exclude(amount_minor=0)
        .order_by()
        .values_list(
            "id",
            "account_id",
            "booked_on",
            "amount_minor",
            "fee_minor",
            "currency",
            "reference_number",
            "counterparty",
        )
    )
    excluded = set(
        Categorization.objects.filter(
            transaction__account_id__in=list(scope.accounts), treatment=EXCLUDE
        ).values_list("transaction_id", flat=True)
    )
    pulled = organisation.last_pull_at
    expected_before = min(pulled, grace) if pulled else None
    recent = (
        set(
            Transaction.objects.filter(
                account_id__in=list(scope.accounts), created_at__gt=expected_before
            ).values_list("id", flat=True)
        )
        if expected_before
        else set()
    )
    first_day = organisation.post_from.toordinal() if organisation.post_from else 0
    lines = {}
    for pk, account_id, day, amount, fee, currency, reference, counterparty in rows:
        ordinal = day.toordinal()
        lines[pk] = matcher.Line(
            id=pk,
            book=scope.accounts[account_id],
            account_id=account_id,
            day=ordinal,
            amount=amount,
            currency=currency,
            fee=fee,
            reference=reference,
            counterparty=counterparty,
            required=expected_before is not None
            and pk not in excluded
            and pk not in recent
            and ordinal >= first_day,
        )
    return lines


def entries_load(
    organisation: Organisation, scope: Scope, lines: dict[int, matcher.Line], grace: datetime
) -> dict[int, matcher.Entry]:
    """Live entries (not deleted or voided) of the scope's bank accounts. Reported when
    unmatched only if dated within Wise's record of that account (on or after its first
    line) and changed in Xero longer ago than the grace."""
    live = LedgerEntry.objects.filter(
        organisation=organisation, bank_account_id__in=list(scope.books)
    ).exclude(status__in=DEAD_STATUSES)
    rows = live.order_by().values_list(
        "id", "bank_account_id", "date", "amount_minor", "currency", "reference", "posting_key",
        "contact_name", "remote_id",
    )  # fmt: skip
    recent = set(live.filter(updated_at_utc__gt=grace).values_list("id", flat=True))
    coverage: dict[str, int] = {}
    for line in lines.values():
        if line.book not in coverage or line.day < coverage[line.book]:
            coverage[line.book] = line.day
    entries, remote_ids = {}, {}
    keyed: Counter[int] = Counter()
    for pk, book, day, amount, currency, reference, key, contact, remote_id in rows:
        ordinal = day.toordinal()
        key_line = posting_key_parse(key) if key else None
        if key_line is not None:
            keyed[key_line] += 1
        start = coverage.get(book)
        entries[pk] = matcher.Entry(
            id=pk,
            book=book,
            day=ordinal,
            amount=amount,
            currency=currency,
            reference=reference,
            key_line=key_line,
            contact=contact,
            required=start is not None and ordinal >= start and pk not in recent,
        )
        remote_ids[pk] = remote_id
    repeated = [line_id for line_id, count in keyed.items() if count > 1]
    if repeated:
        # Several entries carry one line's key: the one the posting record holds is it.
        held = dict(
            Posting.objects.filter(
                organisation=organisation, transaction_id__in=repeated
            ).values_list("transaction_id", "remote_id")
        )
        for entry in entries.values():
            if entry.key_line in held and held[entry.key_line] == remote_ids[entry.id]:
                entry.canonical = True
    return entries
