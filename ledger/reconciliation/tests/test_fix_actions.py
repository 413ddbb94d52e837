"""Mismatches that can be fixed, not only ignored: an amount or a date someone changed in
Xero is put back from the Wise line (Bulwark posts mode), or the difference is accepted
with a reason recording which side is right. Every action goes through the admin, with
the books in the Xero simulator over HTTP."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from ledger.models import Organisation
from ledger.reconciliation.models import Mismatch
from ledger.reconciliation.tests.helpers import (
    code_of,
    entry_of,
    line_add,
    posted_books,
    pull,
    reconciled,
)

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:reconciliation_mismatch_changelist"


@pytest.fixture
def posted(owner_client, xero_sim):
    return posted_books(owner_client, xero_sim, n=40)


def _card(posted):
    return next(
        t for t in posted.books.lines() if t.account_id == posted.books.usd.pk and t.amount < 0
    )


def _changed_in_xero(posted, xero_sim, **change) -> tuple:
    """Someone edits Bulwark's posting in Xero; the books are read back and reconciled."""
    line = _card(posted)
    remote_id = entry_of(line).remote_id
    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(remote_id, **change)
    pull(posted.organisation)
    reconciled(posted.organisation)
    kind = "AMOUNT_DIFFERS" if "total" in change else "DATE_BEYOND_WINDOW"
    return line, remote_id, Mismatch.objects.get(type=kind, transaction=line, status="OPEN")


def _element(xero_sim, remote_id):
    return next(e for e in xero_sim.bank_transactions_of() if e["BankTransactionID"] == remote_id)


def test_an_amount_changed_in_xero_is_put_back_from_the_wise_line(owner_client, posted, xero_sim):
    line, remote_id, mismatch = _changed_in_xero(
        posted, xero_sim, total=abs(_card(posted).amount) - 1
    )
    page = owner_client.get(reverse("admin:reconciliation_mismatch_change", args=[mismatch.pk]))
    assert 'id="correct-in-xero"' in page.content.decode()
    assert 'id="accept"' in page.content.decode()

    response = owner_client.post(
        reverse("admin:reconciliation_mismatch_correct", args=[mismatch.pk]), follow=True
    )
    assert "Updated 1 Xero entry from the Wise line" in response.content.decode()
    assert _element(xero_sim, remote_id)["Total"] == abs(line.amount)  # the same transaction
    mismatch.refresh_from_db()
    assert (mismatch.status, mismatch.resolution) == ("RESOLVED", "RECONCILED")
    assert [e.action for e in mismatch.events.all()][-2:] == ["RESOLVED", "CORRECTED"]
    assert mismatch.events.get(action="CORRECTED").actor.username == "olivia"


def test_a_date_beyond_the_window_is_put_back_from_the_changelist(owner_client, posted, xero_sim):
    line = _card(posted)
    _, remote_id, mismatch = _changed_in_xero(
        posted, xero_sim, day=line.booked_on + timedelta(days=9)
    )
    owner_client.post(
        reverse(CHANGELIST), {"action": "correct_in_xero", "_selected_action": [mismatch.pk]}
    )
    assert _element(xero_sim, remote_id)["DateString"].startswith(line.booked_on.isoformat())
    mismatch.refresh_from_db()
    assert mismatch.status == "RESOLVED"


def test_accepting_records_which_side_is_right_and_changes_nothing_in_xero(
    owner_client, posted, xero_sim
):
    line = _card(posted)
    _, remote_id, mismatch = _changed_in_xero(
        posted, xero_sim, day=line.booked_on + timedelta(days=9)
    )
    writes = xero_sim.writes
    url = reverse("admin:reconciliation_mismatch_accept", args=[mismatch.pk])
    assert "Which side is right?" in owner_client.get(url).content.decode()
    refused = owner_client.post(url, {"reason": "Booked when the invoice arrived"})
    assert refused.status_code == 200  # no side chosen: the form says so
    assert Mismatch.objects.get(pk=mismatch.pk).status == "OPEN"

    owner_client.post(url, {"reason": "Booked when the invoice arrived", "right_side": "XERO"})
    mismatch.refresh_from_db()
    assert (mismatch.status, mismatch.accepted_side) == ("IGNORED", "XERO")
    assert mismatch.status_label == "Accepted · Xero is right"
    event = mismatch.events.get(action="ACCEPTED")
    assert event.note.startswith("Xero is right")
    assert event.detail["accepted_side"] == "XERO"
    assert xero_sim.writes == writes
    listing = owner_client.get(reverse(CHANGELIST), {"status": "IGNORED"}).content.decode()
    assert "Accepted · Xero is right" in listing
    # It stays accepted on the next run, and reopens when the difference changes.
    reconciled(posted.organisation)
    assert Mismatch.objects.get(pk=mismatch.pk).status == "IGNORED"
    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(remote_id, day=line.booked_on + timedelta(days=12))
    pull(posted.organisation)
    reconciled(posted.organisation)
    mismatch.refresh_from_db()
    assert (mismatch.status, mismatch.accepted_side) == ("OPEN", "")


def test_correcting_is_refused_in_audit_only_mode_and_for_the_accountant(
    owner_client, accountant_client, posted, xero_sim
):
    _, remote_id, mismatch = _changed_in_xero(posted, xero_sim, total=Decimal("1.00"))
    url = reverse("admin:reconciliation_mismatch_correct", args=[mismatch.pk])
    assert accountant_client.post(url).status_code == 403
    page = accountant_client.get(
        reverse("admin:reconciliation_mismatch_change", args=[mismatch.pk])
    )
    assert 'id="correct-in-xero"' not in page.content.decode()
    Organisation.objects.update(mode="AUDIT_ONLY")
    writes = xero_sim.writes
    response = owner_client.post(url, follow=True)
    assert "Audit only: Bulwark never writes to Xero" in response.content.decode()
    assert xero_sim.writes == writes
    assert _element(xero_sim, remote_id)["Total"] == Decimal("1.00")
    assert Mismatch.objects.get(pk=mismatch.pk).status == "OPEN"


def test_an_entry_bulwark_did_not_post_is_not_changed(owner_client, posted, xero_sim):
    books, organisation = posted.books, posted.organisation
    line = line_add(books.usd, day=date(2025, 7, 1), amount="-42.00", reference="CARD-7001")
    code = code_of(xero_sim, organisation, books.usd, "701")
    # Wise's own feed booked it, with another amount.
    xero_sim.native_feed_line(
        account_code=code, amount=Decimal("-40.00"), day=date(2025, 7, 1), reference="CARD-7001"
    )
    xero_sim.advance(60)
    pull(organisation)
    reconciled(organisation)
    mismatch = Mismatch.objects.get(type="AMOUNT_DIFFERS", transaction=line)
    writes = xero_sim.writes
    response = owner_client.post(
        reverse("admin:reconciliation_mismatch_correct", args=[mismatch.pk]), follow=True
    )
    assert "was not posted by Bulwark" in response.content.decode()
    assert xero_sim.writes == writes
