"""Reconciliation against the Xero simulator over real HTTP: Wise lines stored through the
ingest, posted by the real push, differences planted with the simulator's hooks (as
Wise's own feed or a person in Xero would), and read back before reconciling."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.models import LedgerEntry
from ledger.reconciliation import selectors
from ledger.reconciliation.models import BalanceCheck, Match, Mismatch
from ledger.reconciliation.tests.helpers import (
    code_of,
    entry_of,
    line_add,
    open_mismatches,
    posted_books,
    pull,
    reconciled,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(owner_client, xero_sim):
    return posted_books(owner_client, xero_sim)


def test_a_clean_dataset_yields_zero_mismatches_and_proves_every_account(posted):
    run = reconciled(posted.organisation)
    lines = posted.books.lines()
    assert open_mismatches(posted.organisation) == []
    assert run.detail["matches"] == {"KEY": len(lines)}
    assert run.detail["mismatches"] == {}
    assert run.percent == 100
    today = timezone.localdate()
    proved = selectors.proved_through_all()
    for account in posted.books.accounts:
        assert selectors.proved_through(account) == today
        assert proved[account.pk] == today
    assert BalanceCheck.objects.count() == 4
    match = Match.objects.first()
    assert match.score == 100
    assert set(match.factors) >= {"key", "amount", "date", "reference", "counterparty"}


def test_each_seeded_difference_is_found_as_its_type_or_its_match(posted, xero_sim):
    books, organisation = posted.books, posted.organisation
    usd = code_of(xero_sim, organisation, books.usd, "701")
    eur = code_of(xero_sim, organisation, books.eur, "702")
    gbp = code_of(xero_sim, organisation, books.gbp, "703")
    lines = books.lines()
    # USD: Wise's own feed posts a line Bulwark posted too; a payment received in one
    # piece that Xero holds as two payments.
    repeated = next(t for t in lines if t.account_id == books.usd.pk and t.wise_type == "CARD")
    native = xero_sim.native_feed_line(
        account_code=usd, amount=repeated.amount, day=repeated.booked_on, reference="Wise"
    )
    split = line_add(
        books.usd, day=date(2025, 6, 10), amount="5000.00", reference="TRANSFER-9001",
        counterparty="Acme Inc", wise_type="DEPOSIT",
    )  # fmt: skip
    for part in ("3000.00", "2000.00"):
        xero_sim.payment_seed(account_code=usd, amount=Decimal(part), day=date(2025, 6, 11))
    # EUR: a line never posted; an entry Wise never had; an entry moved three days.
    missing = line_add(books.eur, day=date(2025, 7, 1), amount="-42.00", reference="CARD-9002")
    stranger = xero_sim.native_feed_line(
        account_code=eur, amount=Decimal("77.77"), day=date(2025, 7, 2), reference="Interest"
    )
    moved = next(t for t in lines if t.account_id == books.eur.pk and t.wise_type == "CARD")
    xero_sim.bank_transaction_amend(entry_of(moved).remote_id, day=moved.booked_on + timedelta(3))
    # GBP: an entry short by the line's fee; a line whose fee Xero holds on its own.
    short = next(t for t in lines if t.account_id == books.gbp.pk and t.fee_minor)
    xero_sim.bank_transaction_amend(entry_of(short).remote_id, total=abs(short.amount) - short.fee)
    apart = line_add(
        books.gbp, day=date(2025, 8, 5), amount="-104.37", fee="4.37", reference="TRANSFER-9003"
    )
    xero_sim.native_feed_line(
        account_code=gbp, amount=Decimal("-100.00"), day=date(2025, 8, 5), reference="TRANSFER-9003"
    )
    xero_sim.native_feed_line(account_code=gbp, amount=Decimal("-4.37"), day=date(2025, 8, 5))
    xero_sim.advance(60)
    pull(organisation)

    reconciled(organisation)
    found = {(m.type, m.transaction_id, m.entry_id) for m in open_mismatches(organisation)}
    native_entry = LedgerEntry.objects.get(remote_id=native)
    stranger_entry = LedgerEntry.objects.get(remote_id=stranger)
    assert ("DUPLICATE_IN_XERO", repeated.pk, native_entry.pk) in found
    assert ("MISSING_IN_XERO", missing.pk, None) in found
    assert ("MISSING_IN_WISE", None, stranger_entry.pk) in found
    assert ("DATE_BEYOND_WINDOW", moved.pk, entry_of(moved).pk) in found
    assert ("AMOUNT_DIFFERS", short.pk, entry_of(short).pk) in found
    by_type = Counter(m.type for m in open_mismatches(organisation))
    assert by_type == {
        "DUPLICATE_IN_XERO": 1,
        "MISSING_IN_XERO": 1,
        "MISSING_IN_WISE": 1,
        "DATE_BEYOND_WINDOW": 1,
        "AMOUNT_DIFFERS": 1,
        "BALANCE_DIFFERS": 3,  # USD, EUR and GBP; the jar is untouched
    }
    fee_short = Mismatch.objects.get(type="AMOUNT_DIFFERS")
    assert fee_short.amount_minor == short.fee_minor
    assert "(the fee)" in fee_short.summary
    assert Mismatch.objects.get(type="DATE_BEYOND_WINDOW").detail["days"] == 3
    split_match = Match.objects.get(items__transaction=split)
    assert split_match.method == "ONE_TO_MANY"
    assert split_match.items.count() == 3
    assert {e.kind for e in LedgerEntry.objects.filter(pk__in=_entries(split_match))} == {"PAYMENT"}
    apart_match = Match.objects.get(items__transaction=apart)
    assert apart_match.method == "ONE_TO_MANY"
    assert apart_match.factors["fee_apart"] == {"fee_minor": 437}
    assert apart_match.factors["reference"]["value"] == "TRANSFER-9003"
    balances = {m.account_id for m in Mismatch.objects.filter(type="BALANCE_DIFFERS")}
    assert balances == {books.usd.pk, books.eur.pk, books.gbp.pk}
    assert selectors.proved_through(books.jar) == timezone.localdate()
    assert selectors.proved_through(books.usd) is None


def _entries(match):
    return [i.entry_id for i in match.items.all() if i.entry_id]
