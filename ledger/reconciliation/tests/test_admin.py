"""The mismatch queue in the admin: each action changes the right thing (in the simulator
too) and lands in the history; the accountant sees everything and can do nothing."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from ledger.models import LedgerEntry, Organisation
from ledger.reconciliation.models import Match, Mismatch
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


def _missing_line(posted, xero_sim):
    line = line_add(posted.books.eur, day=date(2025, 7, 1), amount="-42.00", reference="CARD-9002")
    xero_sim.advance(60)
    pull(posted.organisation)
    reconciled(posted.organisation)
    return line, Mismatch.objects.get(type="MISSING_IN_XERO", transaction=line)


def _actions(mismatch):
    return [e.action for e in mismatch.events.all()]


def test_posting_the_missing_entry_puts_it_in_xero_and_resolves_it(owner_client, posted, xero_sim):
    line, mismatch = _missing_line(posted, xero_sim)
    response = owner_client.post(reverse("admin:reconciliation_mismatch_post", args=[mismatch.pk]))
    assert response.status_code == 302
    ours = [e for e in xero_sim.bank_transactions_of() if e["Reference"] == f"bulwark:t{line.pk}"]
    assert len(ours) == 1
    assert ours[0]["Total"] == Decimal("42.00")
    mismatch.refresh_from_db()
    assert mismatch.status == "RESOLVED"
    assert mismatch.resolution == "RECONCILED"
    assert _actions(mismatch) == ["OPENED", "RESOLVED", "POSTED"]
    assert mismatch.events.get(action="POSTED").actor.username == "olivia"
    assert Match.objects.get(items__transaction=line).method == "KEY"
    assert LogEntry.objects.filter(object_id=str(mismatch.pk)).exists()


def test_posting_is_refused_in_audit_only_mode_and_nothing_is_written(
    owner_client, posted, xero_sim
):
    _, mismatch = _missing_line(posted, xero_sim)
    Organisation.objects.update(mode="AUDIT_ONLY")
    writes = xero_sim.writes
    response = owner_client.post(
        reverse(CHANGELIST),
        {"action": "post_to_xero", "_selected_action": [mismatch.pk]},
        follow=True,
    )
    assert "Audit only: Bulwark never writes to Xero" in response.content.decode()
    assert xero_sim.writes == writes
    mismatch.refresh_from_db()
    assert mismatch.status == "OPEN"


def test_a_line_whose_posting_was_deleted_in_xero_is_posted_again(owner_client, posted, xero_sim):
    line = next(t for t in posted.books.lines() if t.account_id == posted.books.usd.pk)
    old = entry_of(line).remote_id
    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(old, status="DELETED")
    pull(posted.organisation)
    reconciled(posted.organisation)
    mismatch = Mismatch.objects.get(type="MISSING_IN_XERO", transaction=line)
    owner_client.post(reverse("admin:reconciliation_mismatch_post", args=[mismatch.pk]))
    live = [
        e
        for e in xero_sim.bank_transactions_of()
        if e["Reference"] == f"bulwark:t{line.pk}" and e["Status"] == "AUTHORISED"
    ]
    assert len(live) == 1
    assert live[0]["BankTransactionID"] != old
    mismatch.refresh_from_db()
    assert mismatch.status == "RESOLVED"
    assert old in mismatch.events.filter(action="POSTED").first().note


def test_linking_by_hand_matches_and_resolves_both_sides(owner_client, posted, xero_sim):
    books, organisation = posted.books, posted.organisation
    line = line_add(books.eur, day=date(2025, 7, 1), amount="-42.00", reference="CARD-9002")
    code = code_of(xero_sim, organisation, books.eur, "702")
    xero_sim.native_feed_line(account_code=code, amount=Decimal("-42.50"), day=date(2025, 7, 12))
    xero_sim.advance(60)
    pull(organisation)
    reconciled(organisation)
    missing = Mismatch.objects.get(type="MISSING_IN_XERO", transaction=line)
    stranger = Mismatch.objects.get(type="MISSING_IN_WISE")
    url = reverse("admin:reconciliation_mismatch_link", args=[missing.pk])
    page = owner_client.get(url)
    assert page.status_code == 200
    assert f'value="{stranger.entry_id}"' in page.content.decode()
    response = owner_client.post(url, {"entries": [stranger.entry_id]})
    assert response.status_code == 302
    match = Match.objects.get(method="MANUAL")
    assert match.created_by.username == "olivia"
    missing.refresh_from_db()
    stranger.refresh_from_db()
    assert (missing.status, missing.resolution) == ("RESOLVED", "LINKED")
    assert stranger.status == "RESOLVED"
    assert _actions(missing) == ["OPENED", "LINKED"]
    # What still differs inside the link is its own mismatch.
    assert Mismatch.objects.get(type="AMOUNT_DIFFERS", status="OPEN").amount_minor == -50
    assert Mismatch.objects.get(type="DATE_BEYOND_WINDOW", status="OPEN").detail["days"] == 11

    reconciled(organisation)  # a rerun keeps the link
    assert Match.objects.get(method="MANUAL").is_active
    owner_client.post(reverse("admin:reconciliation_mismatch_reopen", args=[missing.pk]))
    missing.refresh_from_db()
    assert missing.status == "OPEN"
    assert not Match.objects.get(method="MANUAL").is_active
    assert _actions(missing) == ["OPENED", "LINKED", "REOPENED"]
    assert "is undone" in missing.events.last().note


def test_ignoring_needs_a_reason_stays_ignored_and_reopens_when_the_difference_changes(
    owner_client, posted, xero_sim
):
    line = next(t for t in posted.books.lines() if t.account_id == posted.books.gbp.pk)
    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(entry_of(line).remote_id, total=abs(line.amount) + 1)
    pull(posted.organisation)
    reconciled(posted.organisation)
    mismatch = Mismatch.objects.get(type="AMOUNT_DIFFERS")
    url = reverse("admin:reconciliation_mismatch_ignore", args=[mismatch.pk])
    refused = owner_client.post(url, {"reason": "   "})
    assert refused.status_code == 200
    assert (
        "This field is required" in refused.content.decode() or "reason" in refused.content.decode()
    )
    mismatch.refresh_from_db()
    assert mismatch.status == "OPEN"

    owner_client.post(url, {"reason": "Rounding agreed with the accountant"})
    mismatch.refresh_from_db()
    assert (mismatch.status, mismatch.ignore_reason) == (
        "IGNORED",
        "Rounding agreed with the accountant",
    )
    reconciled(posted.organisation)
    mismatch.refresh_from_db()
    assert mismatch.status == "IGNORED"  # the same difference: stays ignored

    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(entry_of(line).remote_id, total=abs(line.amount) + 2)
    pull(posted.organisation)
    reconciled(posted.organisation)
    mismatch.refresh_from_db()
    assert mismatch.status == "OPEN"
    assert _actions(mismatch) == ["OPENED", "IGNORED", "REOPENED"]
    assert mismatch.events.get(action="IGNORED").note == "Rounding agreed with the accountant"

    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(entry_of(line).remote_id, total=abs(line.amount))
    pull(posted.organisation)
    reconciled(posted.organisation)
    mismatch.refresh_from_db()
    assert (mismatch.status, mismatch.resolution) == ("RESOLVED", "RECONCILED")
    assert mismatch.events.last().note == "Resolved by reconciliation: the difference is gone"


def test_bulk_ignore_goes_through_an_intermediate_form(owner_client, posted, xero_sim):
    _missing_line(posted, xero_sim)
    ids = list(Mismatch.objects.filter(status="OPEN").values_list("pk", flat=True))
    page = owner_client.post(
        reverse(CHANGELIST), {"action": "ignore_with_reason", "_selected_action": ids}
    )
    assert page.status_code == 200
    assert "say why the difference is fine" in page.content.decode()
    owner_client.post(
        reverse(CHANGELIST),
        {"action": "ignore_with_reason", "_selected_action": ids, "apply": "1",
         "reason": "Opening balances not in Xero"},
    )  # fmt: skip
    assert set(Mismatch.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"IGNORED"}


def test_undoing_a_match_reexamines_its_lines_and_never_pairs_them_again(
    owner_client, posted, xero_sim
):
    reconciled(posted.organisation)
    match = Match.objects.filter(method="KEY").first()
    line_id = match.items.get(transaction__isnull=False).transaction_id
    response = owner_client.post(
        reverse("admin:reconciliation_match_changelist"),
        {"action": "undo", "_selected_action": [match.pk]},
    )
    assert response.status_code == 302
    match.refresh_from_db()
    assert match.undone_by.username == "olivia"
    assert not Match.objects.filter(items__transaction_id=line_id).exists()
    assert Mismatch.objects.filter(type="MISSING_IN_XERO", transaction_id=line_id, status="OPEN")
    reconciled(posted.organisation)
    assert not Match.objects.filter(items__transaction_id=line_id).exists()


def test_the_queue_filters_and_shows_both_sides(owner_client, posted, xero_sim):
    line, mismatch = _missing_line(posted, xero_sim)
    changelist = owner_client.get(reverse(CHANGELIST))
    assert mismatch.summary in changelist.content.decode()
    for query in ("type__exact=MISSING_IN_XERO", f"account__id__exact={line.account_id}",
                  "age=day", "status=all", "status=IGNORED"):  # fmt: skip
        assert owner_client.get(f"{reverse(CHANGELIST)}?{query}").status_code == 200
    assert (
        mismatch.summary
        not in owner_client.get(f"{reverse(CHANGELIST)}?status=IGNORED").content.decode()
    )
    page = owner_client.get(reverse("admin:reconciliation_mismatch_change", args=[mismatch.pk]))
    html = page.content.decode()
    assert 'id="wise-side"' in html
    assert "CARD-9002" in html
    assert 'id="post-to-xero"' in html
    assert 'id="ignore"' in html
    assert 'id="history"' in html


def test_the_accountant_sees_the_queue_read_only(accountant_client, owner_client, posted, xero_sim):
    _, mismatch = _missing_line(posted, xero_sim)
    assert accountant_client.get(reverse(CHANGELIST)).status_code == 200
    page = accountant_client.get(
        reverse("admin:reconciliation_mismatch_change", args=[mismatch.pk])
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="wise-side"' in html
    assert 'id="post-to-xero"' not in html
    assert 'id="ignore"' not in html
    assert "post_to_xero" not in accountant_client.get(reverse(CHANGELIST)).content.decode()
    assert (
        accountant_client.get(
            reverse("admin:reconciliation_mismatch_ignore", args=[mismatch.pk])
        ).status_code
        == 403
    )
    assert (
        accountant_client.get(
            reverse("admin:reconciliation_mismatch_link", args=[mismatch.pk])
        ).status_code
        == 403
    )
    assert (
        accountant_client.post(
            reverse("admin:reconciliation_mismatch_post", args=[mismatch.pk])
        ).status_code
        == 403
    )
    mismatch.refresh_from_db()
    assert mismatch.status == "OPEN"
    assert list(mismatch.events.values_list("action", flat=True)) == ["OPENED"]


def test_date_three_days_off_is_beyond_the_window_then_gone_when_fixed(posted, xero_sim):
    line = next(t for t in posted.books.lines() if t.account_id == posted.books.eur.pk)
    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(entry_of(line).remote_id, day=line.booked_on + timedelta(3))
    pull(posted.organisation)
    reconciled(posted.organisation)
    assert Mismatch.objects.get(status="OPEN").type == "DATE_BEYOND_WINDOW"
    run = reconciled(posted.organisation)
    assert (run.detail["opened"], run.detail["resolved"], run.detail["changed"]) == (0, 0, 0)
    xero_sim.advance(60)
    xero_sim.bank_transaction_amend(entry_of(line).remote_id, day=line.booked_on)
    pull(posted.organisation)
    run = reconciled(posted.organisation)
    assert run.detail["resolved"] == 1
    assert not Mismatch.objects.filter(status="OPEN").exists()
    assert LedgerEntry.objects.get(pk=entry_of(line).pk).date == line.booked_on
