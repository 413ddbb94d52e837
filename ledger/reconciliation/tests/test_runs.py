"""Runs and their triggers, the command, the summary page and the dashboard selectors."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import SyncRun
from ledger import tasks as ledger_tasks
from ledger.reconciliation import selectors, services, tasks
from ledger.reconciliation.models import Mismatch, ReconcileLease
from ledger.reconciliation.tests.helpers import (
    code_of,
    line_add,
    open_mismatches,
    posted_books,
    pull,
    reconciled,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(owner_client, xero_sim):
    return posted_books(owner_client, xero_sim, n=40)


def test_the_command_prints_matches_by_method_and_mismatches_by_type(posted, xero_sim, capsys):
    line_add(posted.books.eur, day=date(2025, 7, 1), amount="-42.00", reference="CARD-9002")
    xero_sim.advance(60)
    pull(posted.organisation)
    call_command("reconcile")
    out = capsys.readouterr().out
    assert "40 Wise lines" not in out  # the new line makes 41
    assert "41 Wise lines against 40 Xero entries" in out
    assert "Matches: Bulwark's posting key 40" in out
    assert "Missing in Xero 1" in out
    assert "Balance differs 1" in out
    call_command("reconcile", "--account", str(posted.books.eur.pk))
    assert "This run: 0 found, 0 changed, 0 reopened, 0 resolved" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No cash account with id 999999"):
        call_command("reconcile", "--account", "999999")


def test_the_command_says_when_nothing_is_mapped(db):
    with pytest.raises(CommandError, match="connect Xero and map"):
        call_command("reconcile")


def test_a_run_reruns_idempotently_and_counts_progress(posted):
    first = reconciled(posted.organisation)
    second = reconciled(posted.organisation)
    assert first.detail["matches_new"] == 40
    assert (second.detail["matches_new"], second.detail["matches_undone"]) == (0, 0)
    assert (second.progress_done, second.progress_total) == (6, 6)
    assert set(second.detail["timings"]) == {
        "lines",
        "entries",
        "matching",
        "matches",
        "mismatches",
        "balances",
    }


def test_a_second_run_while_one_holds_the_lease_is_skipped_and_asks_for_another(posted):
    ReconcileLease.objects.create(
        organisation=posted.organisation, until=timezone.now() + timedelta(minutes=5)
    )
    run = services.reconcile(organisation_id=posted.organisation.pk)
    assert run.status == "SKIPPED"
    assert ReconcileLease.objects.get().rerun


def test_lines_are_not_missing_in_xero_within_the_grace_or_before_a_read_back(posted, settings):
    line_add(posted.books.eur, day=date(2025, 7, 1), amount="-42.00", reference="CARD-9002")
    reconciled(posted.organisation)  # stored after the last read-back: not expected yet
    assert not Mismatch.objects.filter(type="MISSING_IN_XERO").exists()
    settings.RECONCILE_GRACE_HOURS = 6
    pull(posted.organisation)
    reconciled(posted.organisation)  # read back since, but stored a moment ago
    assert not Mismatch.objects.filter(type="MISSING_IN_XERO").exists()
    reconciled(posted.organisation, now=timezone.now() + timedelta(hours=7))
    assert Mismatch.objects.filter(type="MISSING_IN_XERO").count() == 1


def test_a_wise_ingest_and_a_xero_read_back_enqueue_a_reconciliation(
    posted, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        tasks.reconcile_account_task, "delay", lambda *a: sent.append(("account", a))
    )
    monkeypatch.setattr(tasks.reconcile_task, "delay", lambda *a: sent.append(("org", a)))
    with django_capture_on_commit_callbacks(execute=True):
        line_add(posted.books.gbp, day=date(2025, 7, 1), amount="-1.00", reference="CARD-9010")
    assert ("account", (posted.books.gbp.pk,)) in sent
    with django_capture_on_commit_callbacks(execute=True):
        ledger_tasks.xero_pull_task(posted.organisation.pk)
    assert ("org", (posted.organisation.pk, None)) in sent


def test_the_account_task_and_the_nightly_fan_out_run_the_service(posted, monkeypatch):
    tasks.reconcile_account_task(posted.books.usd.pk)
    run = SyncRun.objects.filter(kind="RECONCILE").latest("started_at")
    assert (run.status, run.account_id) == ("SUCCEEDED", posted.books.usd.pk)
    sent = []
    monkeypatch.setattr(tasks.reconcile_task, "delay", lambda *a: sent.append(a))
    tasks.reconcile_all()
    assert sent == [(posted.organisation.pk,)]


def test_the_summary_page_counts_and_proves_in_a_fixed_number_of_queries(
    owner_client, accountant_client, posted, xero_sim, django_assert_num_queries
):
    code = code_of(xero_sim, posted.organisation, posted.books.usd, "701")
    xero_sim.native_feed_line(account_code=code, amount=Decimal("9.99"), day=date(2025, 3, 3))
    xero_sim.advance(60)
    pull(posted.organisation)
    reconciled(posted.organisation)
    assert selectors.mismatches_open_by_type()["MISSING_IN_WISE"] == 1
    with django_assert_num_queries(6):  # session, user; 4 for the page
        page = owner_client.get(reverse("reconciliation:queue"))
    html = page.content.decode()
    assert 'id="open-total"' in html
    assert "Reconcile now" in html
    assert str(timezone.localdate()) in html  # the untouched accounts are proved to today
    assert "not proved yet" in html  # USD holds a line Wise never had
    assert (
        "Reconcile now"
        not in accountant_client.get(reverse("reconciliation:queue")).content.decode()
    )
    partial = owner_client.get(
        reverse("reconciliation:queue"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="runs"
    )
    assert partial.content.decode().lstrip().startswith('<section class="card" id="runs"')


def test_proved_through_for_all_accounts_takes_one_query(posted, django_assert_num_queries):
    reconciled(posted.organisation)
    with django_assert_num_queries(1):
        proved = selectors.proved_through_all()
    assert proved == {a.pk: selectors.proved_through(a) for a in posted.books.accounts}
    assert open_mismatches(posted.organisation) == []


def test_reconcile_now_enqueues_and_says_so(owner_client, posted, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.reconcile_task, "delay", lambda *a: sent.append(a))
    response = owner_client.post(reverse("reconciliation:run"), follow=True)
    assert "Reconciliation of Demo Company (US) queued." in response.content.decode()
