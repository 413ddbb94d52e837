"""Reading the books back: ledger entries of the mapped accounts with If-Modified-Since
and paging, transfers and payments, and bank balances from the Bank Summary report."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.selectors import balance_minor_on
from ledger import services
from ledger.books.keys import posting_key_parse
from ledger.models import BankBalance, LedgerEntry, Posting
from ledger.tests.factories import wise_year
from ledger.tests.helpers import connected, mapped

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(owner_client, xero_sim):
    books = wise_year(n=260)
    organisation = mapped(owner_client, connected(owner_client, xero_sim), books)
    services.books_push(organisation_id=organisation.pk)
    return books, organisation


def test_read_back_stores_every_posted_line_with_its_key_and_pages(posted, xero_sim):
    books, organisation = posted
    run = services.books_pull(organisation_id=organisation.pk)
    assert run.status == "SUCCEEDED", run.error
    entries = LedgerEntry.objects.filter(organisation=organisation)
    assert entries.count() == 260
    assert run.detail["pages"] >= 3  # 260 bank transactions need three pages of 100
    by_key = {posting_key_parse(e.reference): e for e in entries}
    for txn in books.lines():
        entry = by_key[txn.pk]
        assert entry.amount_minor == txn.amount_minor
        assert entry.currency == txn.currency
        assert entry.date == txn.booked_on
        assert entry.posting_key == f"bulwark:t{txn.pk}"
        assert entry.remote_id == Posting.objects.get(transaction=txn).remote_id


def test_later_read_backs_ask_only_for_changes(posted, xero_sim):
    _books, organisation = posted
    services.books_pull(organisation_id=organisation.pk)
    first, second = LedgerEntry.objects.all()[:2]
    xero_sim.advance(60)
    xero_sim.reconcile(first.remote_id)
    services.books_pull(organisation_id=organisation.pk)
    xero_sim.advance(60)
    xero_sim.reconcile(second.remote_id)
    before = len(xero_sim.requests)
    run = services.books_pull(organisation_id=organisation.pk)
    listing = [r for r in xero_sim.requests[before:] if r.path.endswith("/BankTransactions")]
    assert len(listing) == 1
    assert "if-modified-since" in listing[0].headers
    # The change, and the previous change again (the cursor's few seconds of overlap).
    assert run.detail["stored"] == 2
    second.refresh_from_db()
    assert second.is_reconciled


def test_transfers_payments_and_foreign_lines_of_mapped_accounts(posted, xero_sim):
    _books, organisation = posted
    usd = organisation.mappings.get(cash_account__currency="USD").chart_account
    native = xero_sim.native_feed_line(
        account_code="090", amount=Decimal("12.50"), day=date(2025, 3, 1), reference="Wise feed"
    )
    xero_sim.payment_seed(
        account_code="090", amount=Decimal("300.00"), day=date(2025, 3, 2), reference="INV-7"
    )
    xero_sim.transfer_seed(
        from_code="090",
        to_code=_code_of(xero_sim, usd.account_id),
        amount=Decimal("40.00"),
        day=date(2025, 3, 3),
        reference="top up",
    )
    services.books_pull(organisation_id=organisation.pk)
    assert not LedgerEntry.objects.filter(remote_id=native).exists()  # 090 is not mapped
    transfer = LedgerEntry.objects.get(kind="BANK_TRANSFER")
    assert transfer.side == "TO"
    assert transfer.amount_minor == 4000
    assert transfer.currency == "USD"
    assert not LedgerEntry.objects.filter(remote_type__in=("SPEND-TRANSFER", "RECEIVE-TRANSFER"))
    assert not LedgerEntry.objects.filter(kind="PAYMENT").exists()  # paid into 090


def test_a_cross_currency_transfer_made_in_xero_gives_each_side_its_own_amount(posted, xero_sim):
    _books, organisation = posted
    usd, eur = (
        organisation.mappings.filter(cash_account__currency=code).first().chart_account
        for code in ("USD", "EUR")
    )
    for account, code in ((usd, "091"), (eur, "092")):
        xero_sim.org().accounts[account.account_id]["Code"] = code
    transfer_id = xero_sim.transfer_seed(
        from_code="091",
        to_code="092",
        amount=Decimal("1000.00"),
        to_amount=Decimal("921.37"),
        day=date(2025, 3, 3),
        reference="to the euro account",
    )
    services.books_pull(organisation_id=organisation.pk)
    sides = {
        e.side: (e.amount_minor, e.currency, e.chart_account_id)
        for e in LedgerEntry.objects.filter(kind="BANK_TRANSFER", remote_id=transfer_id)
    }
    assert sides == {"FROM": (-100000, "USD", usd.pk), "TO": (92137, "EUR", eur.pk)}


def test_balances_from_the_bank_summary_match_bulwark_after_posting(posted, xero_sim):
    books, organisation = posted
    call_command("sync_xero", "--pull")
    balances = BankBalance.objects.filter(organisation=organisation)
    assert balances.count() == 4
    for balance in balances:
        cash = organisation.mappings.get(chart_account=balance.chart_account).cash_account
        movement = sum(t.amount_minor for t in books.lines() if t.account_id == cash.pk)
        assert balance.closing_minor == movement == balance_minor_on(cash, balance.as_of)
        assert balance.currency == cash.currency
        if cash.currency != organisation.base_currency:
            # Xero's Bank Summary gives a foreign account's figures in base currency: kept
            # beside the account's own balance, which the entries read back give.
            assert balance.raw["source"] == "entries"
            assert balance.raw["bank_summary_in_base"]["currency"] == "USD"


def _code_of(sim, account_id):
    return sim.org().accounts[account_id]["Code"] or _give_code(sim, account_id)


def _give_code(sim, account_id):
    sim.org().accounts[account_id]["Code"] = "091"
    return "091"


def test_changes_made_in_xero_come_back_on_the_next_read(posted, xero_sim):
    _books, organisation = posted
    services.books_pull(organisation_id=organisation.pk)
    changed, deleted = LedgerEntry.objects.filter(remote_type="SPEND")[:2]
    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(changed.remote_id, total=Decimal("1.23"), day=date(2025, 6, 1))
    xero_sim.bank_transaction_amend(deleted.remote_id, status="DELETED")
    services.books_pull(organisation_id=organisation.pk)
    changed.refresh_from_db()
    deleted.refresh_from_db()
    assert changed.amount_minor == -123
    assert changed.date == date(2025, 6, 1)
    assert deleted.status == "DELETED"


def test_posting_keys_parse_back_to_lines():
    assert posting_key_parse("bulwark:t42") == 42
    assert posting_key_parse("bulwark:tx") is None
    assert posting_key_parse("Wise feed") is None
    assert posting_key_parse("") is None


def test_lines_from_another_poster_on_mapped_accounts_raise_a_double_posting_warning(
    owner_client, posted, xero_sim
):
    _books, organisation = posted
    services.books_pull(organisation_id=organisation.pk)
    assert b'id="not-ours"' not in owner_client.get("/books/xero/").content
    eur = organisation.mappings.get(cash_account__name="EUR balance").chart_account
    code = _code_of(xero_sim, eur.account_id)
    xero_sim.native_feed_line(account_code=code, amount=Decimal("-4.20"), day=date(2025, 5, 5))
    services.books_pull(organisation_id=organisation.pk)
    page = owner_client.get("/books/xero/").content.decode()
    assert "1 bank transaction on the mapped accounts was not posted by Bulwark" in page
