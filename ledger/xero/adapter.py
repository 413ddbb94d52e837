"""Xero behind the books seam (`ledger.books.BooksAdapter`): each operation opens a
client for the organisation's live connection, delegates to this package's push, pull
and mapping, and keeps what Xero said about the budget."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, ClassVar

from django.utils import timezone

from accounts.models import CashAccount
from ledger.books import BudgetLow, PushFailed, PushResult, ReadBackResult
from ledger.models import ChartAccount, Organisation
from ledger.xero import connect, mapping
from ledger.xero.client import XeroClient, XeroError
from ledger.xero.limits import DayBudgetLow
from ledger.xero.pull import Puller
from ledger.xero.push import Pusher
from ledger.xero.session import budget_record, client_open


class XeroBooks:
    provider: ClassVar[str] = "xero"

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation

    # --- connecting (before there is an organisation) --------------------------------

    connect_start = staticmethod(connect.connect_start)
    connect_finish = staticmethod(connect.connect_finish)
    disconnect = staticmethod(connect.disconnect)
    # Xero's own: choosing among the organisations authorised, and custom connections.
    tenant_choose = staticmethod(connect.tenant_choose)
    custom_connect = staticmethod(connect.custom_connect)

    @staticmethod
    def contracts_exercise(sim: Any) -> None:
        """Drive the client through every operation Bulwark uses (the demo's contracts)."""
        from ledger.xero.contracts import exercise

        exercise(sim)

    # --- the books ---------------------------------------------------------------------

    @contextmanager
    def _client(self, *, writes: bool = False) -> Iterator[XeroClient]:
        client = client_open(self.organisation, writes=writes)
        with client:
            try:
                yield client
            except DayBudgetLow as exc:
                raise BudgetLow(str(exc), retry_after=exc.retry_after) from exc
            finally:
                budget_record(self.organisation, client.budget)

    def chart_refresh(self) -> None:
        with self._client() as client:
            mapping.settings_read(self.organisation, client)

    def bank_account_ensure(self, cash: CashAccount, *, name: str) -> ChartAccount:
        with self._client(writes=True) as client:
            return mapping.bank_account_create(self.organisation, client, cash, name=name)

    def special_account_ensure(self, purpose: str) -> ChartAccount:
        with self._client(writes=True) as client:
            return mapping.special_account_create(self.organisation, client, purpose)

    def lines_post(
        self, *, limit: int | None = None, on_progress: Callable[[PushResult], None] | None = None
    ) -> PushResult:
        with self._client(writes=True) as client:
            pusher = Pusher(self.organisation, client, on_progress=on_progress)
            try:
                result = pusher.run(limit=limit)
            except XeroError as exc:
                raise PushFailed(str(exc), result=pusher.result) from exc
            finally:
                pusher.result.calls = client.budget.calls
                pusher.result.retries_429 = client.budget.retries_429
        return result

    def postings_lookup(self, keys: Iterable[str]) -> dict[str, str]:
        with self._client() as client:
            found = client.bank_transactions_by_reference(keys)
        return {key: hit.remote_id for key, hit in found.items()}

    def read_back(self, *, today: date | None = None) -> ReadBackResult:
        with self._client() as client:
            result = Puller(self.organisation, client).run(today=today)
            result.calls = client.budget.calls
        return result

    def bank_balances(self, *, today: date | None = None) -> int:
        with self._client() as client:
            puller = Puller(self.organisation, client)
            if puller.accounts:
                puller.balances_read(today or timezone.localdate())
        return puller.result.balances

    def document_attach(
        self, *, chart_account: ChartAccount, file_name: str, data: bytes, key: str
    ) -> str:
        with self._client(writes=True) as client:
            there = client.account_attachments(chart_account.account_id)
            same = next(
                (a for a in there if a.file_name == file_name and a.size == len(data)), None
            )
            if same is not None:  # attached by a run that stopped before recording it
                return same.attachment_id
            attached = client.account_attachment_put(
                chart_account.account_id, file_name=file_name, data=data, idempotency_key=key
            )
        return attached.attachment_id
