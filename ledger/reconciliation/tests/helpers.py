"""Steps shared by the reconciliation tests: Wise lines stored through the ingest, posted
with the real push to the Xero simulator and read back over HTTP, then differences
planted with the simulator's hooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from accounts.lines import StatementLine
from accounts.models import CashAccount, Transaction
from accounts.services import transactions_ingest
from ledger import services as books_services
from ledger.models import LedgerEntry, Organisation
from ledger.reconciliation.models import Mismatch
from ledger.reconciliation.services import reconcile
from ledger.tests.factories import DemoBooks, wise_year
from ledger.tests.helpers import connected, mapped


@dataclass
class Posted:
    books: DemoBooks
    organisation: Organisation


def posted_books(client, sim, *, n: int = 80) -> Posted:
    """A year of demo lines posted by Bulwark and read back."""
    books = wise_year(n=n)
    organisation = mapped(client, connected(client, sim), books)
    push = books_services.books_push(organisation_id=organisation.pk)
    assert push.status == "SUCCEEDED", (push.error, push.detail)
    pull(organisation)
    return Posted(books, organisation)


def pull(organisation: Organisation) -> None:
    """Read the books back over HTTP (a minute later on the simulator's clock, so its
    changes are after the cursor)."""
    result = books_services.books_pull(organisation_id=organisation.pk)
    assert result.status == "SUCCEEDED", result.error
    organisation.refresh_from_db()


def reconciled(organisation: Organisation, **kwargs):
    run = reconcile(organisation_id=organisation.pk, **kwargs)
    assert run.status == "SUCCEEDED", run.error
    return run


def code_of(sim, organisation: Organisation, account: CashAccount, code: str) -> str:
    """The simulator's hooks take account codes; Bulwark creates its bank accounts
    without one, so give the mapped account a code."""
    chart_account = organisation.mappings.get(cash_account=account).chart_account
    sim.org().accounts[chart_account.account_id]["Code"] = code
    return code


def line_add(
    account: CashAccount,
    *,
    day: date,
    amount: str,
    fee: str = "0",
    reference: str,
    counterparty: str = "",
    wise_type: str = "CARD",
) -> Transaction:
    transactions_ingest(
        account=account,
        lines=[
            StatementLine(
                booked_at=datetime.combine(day, time(10, 0), tzinfo=UTC),
                amount=Decimal(amount),
                fee=Decimal(fee),
                currency=account.currency,
                wise_type=wise_type,
                counterparty=counterparty,
                description=f"Test line {reference}",
                reference_number=reference,
            )
        ],
        source="API",
    )
    return Transaction.objects.get(account=account, reference_number=reference)


def entry_of(line: Transaction) -> LedgerEntry:
    return LedgerEntry.objects.get(posting_key=f"bulwark:t{line.pk}")


def open_mismatches(organisation: Organisation) -> list[Mismatch]:
    return list(Mismatch.objects.filter(organisation=organisation, status="OPEN"))
