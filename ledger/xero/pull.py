"""Reading the books back: bank transactions, bank transfers and payments of the mapped
bank accounts, stored as `LedgerEntry` rows, and each bank account's balance from the
Bank Summary report.

Each stream reads everything modified since its cursor (minus a small overlap), ordered
by UpdatedDateUTC, page by page; a page's rows and the advanced cursor are stored in one
transaction, so a rerun repeats at most one page and upserts make that harmless. Xero
sends no webhooks for these documents, so this is polled (beat).

A BankTransfer also appears as two bank transactions (SPEND-TRANSFER, RECEIVE-TRANSFER);
those are skipped here because the transfer itself is stored, once per side.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN

from django.db import transaction
from django.utils import timezone

from ledger.books import ReadBackResult
from ledger.books.keys import posting_key_parse
from ledger.models import (
    BankAccountMapping,
    BankBalance,
    ChartAccount,
    LedgerEntry,
    Organisation,
    PullCursor,
)
from ledger.xero.client import BankDocument, BankSummaryRow, XeroClient
from treasury.money import quantize, to_minor

OVERLAP = timedelta(seconds=5)
TRANSFER_LEGS = ("SPEND-TRANSFER", "RECEIVE-TRANSFER")


class Puller:
    def __init__(self, organisation: Organisation, client: XeroClient) -> None:
        self.org = organisation
        self.client = client
        self.result = ReadBackResult()
        mapped = BankAccountMapping.objects.filter(organisation=organisation).select_related(
            "chart_account"
        )
        self.accounts: dict[str, ChartAccount] = {
            m.chart_account.account_id: m.chart_account for m in mapped
        }

    def run(self, *, today: date | None = None) -> ReadBackResult:
        if not self.accounts:
            return self.result
        self._paged("bank_transactions", self.client.bank_transactions_page)
        self._paged("payments", self.client.payments_page)
        cursor = self._cursor("bank_transfers")
        documents = self.client.bank_transfers(since=_since(cursor))
        self._store(cursor, documents)
        self.balances_read(today or timezone.localdate())
        return self.result

    def _cursor(self, stream: str) -> PullCursor:
        cursor, _ = PullCursor.objects.get_or_create(organisation=self.org, stream=stream)
        return cursor

    def _paged(self, stream: str, fetch: object) -> None:
        cursor = self._cursor(stream)
        since, page = _since(cursor), 1
        while True:
            result = fetch(since=since, page=page)  # type: ignore[operator]
            self._store(cursor, result.documents)
            if not result.more:
                return
            page += 1

    def _store(self, cursor: PullCursor, documents: Iterable[BankDocument]) -> None:
        documents = list(documents)
        self.result.pages += 1
        with transaction.atomic():
            newest = cursor.modified_since
            for document in documents:
                newest = max(newest, document.updated_at) if newest else document.updated_at
                if document.remote_type in TRANSFER_LEGS:
                    continue
                account = self.accounts.get(document.bank_account_id)
                if account is None:
                    continue  # not a mapped account
                self._entry_store(document, account)
            if newest != cursor.modified_since:
                cursor.modified_since = newest
                cursor.updated_at = timezone.now()
                cursor.save(update_fields=["modified_since", "updated_at"])

    def _entry_store(self, document: BankDocument, account: ChartAccount) -> None:
        currency = document.currency or account.currency
        amount = quantize(document.amount, currency, ROUND_HALF_EVEN)
        transaction_id = posting_key_parse(document.reference)
        LedgerEntry.objects.update_or_create(
            organisation=self.org,
            kind=document.kind,
            remote_id=document.remote_id,
            side=document.side,
            defaults={
                "remote_type": document.remote_type,
                "chart_account": account,
                "bank_account_id": document.bank_account_id,
                "date": document.date,
                "amount_minor": to_minor(amount, currency),
                "currency": currency,
                "reference": document.reference[:255],
                "posting_key": document.reference if transaction_id is not None else "",
                "contact_name": document.contact_name[:255],
                "status": document.status,
                "is_reconciled": document.is_reconciled,
                "updated_at_utc": document.updated_at,
                "raw": dict(document.raw),
                "pulled_at": timezone.now(),
            },
        )
        self.result.stored += 1

    def balances_read(self, today: date) -> None:
        """Balances of the mapped bank accounts as of today (Bank Summary, one call).

        Xero's help says the Bank Summary shows a multi-currency organisation's figures
        in its base currency, and the report has no other: its row of a foreign bank
        account is kept (in `raw`, as base-currency figures), and the account's own
        balance is the sum of its live entries as read back from Xero, in its currency.
        A base-currency account's figures are the report's."""
        start = today.replace(day=1)
        rows = self.client.bank_summary(start=start, end=today)
        with transaction.atomic():
            for row in rows:
                account = self.accounts.get(row.account_id)
                if account is not None:
                    self._balance_store(account, row, start, today)

    def _balance_store(
        self, account: ChartAccount, row: BankSummaryRow, start: date, today: date
    ) -> None:
        base = self.org.base_currency

        def minor(value: object, currency: str) -> int:
            return to_minor(quantize(value, currency, ROUND_HALF_EVEN), currency)  # type: ignore[arg-type]

        report = {
            "name": row.name,
            "currency": base,
            "opening": str(row.opening),
            "received": str(row.received),
            "spent": str(row.spent),
            "closing": str(row.closing),
        }
        if account.currency == base:
            figures = [minor(v, base) for v in (row.opening, row.received, row.spent)]
            raw = {**report, "source": "bank_summary"}
        else:
            figures = self._entry_figures(account, start, today)
            raw = {"name": row.name, "source": "entries", "bank_summary_in_base": report}
        opening, received, spent = figures
        BankBalance.objects.update_or_create(
            organisation=self.org,
            chart_account=account,
            as_of=today,
            defaults={
                "currency": account.currency,
                "opening_minor": opening,
                "received_minor": received,
                "spent_minor": spent,
                "closing_minor": opening + received - spent,
                "fetched_at": timezone.now(),
                "raw": raw,
            },
        )
        self.result.balances += 1

    def _entry_figures(self, account: ChartAccount, start: date, today: date) -> list[int]:
        """(opening, received, spent) in minor units of the account's own currency, from
        its live entries read back: before `start`, and from `start` to `today`."""
        live = LedgerEntry.objects.filter(organisation=self.org, chart_account=account).exclude(
            status__in=LedgerEntry.DEAD_STATUSES
        )
        opening = received = spent = 0
        for day, amount in live.filter(date__lte=today).values_list("date", "amount_minor"):
            if day < start:
                opening += amount
            elif amount > 0:
                received += amount
            else:
                spent -= amount
        return [opening, received, spent]


def _since(cursor: PullCursor) -> datetime | None:
    return cursor.modified_since - OVERLAP if cursor.modified_since else None
