"""The daily monitor: stored results, alerts at 80% and 100% once per year (across syncs,
reruns and concurrent runs), retries after a failed send, and the dashboard's items."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from treasury.fbar.models import FbarSettings, MonitorState, ThresholdAlert
from treasury.fbar.services import (
    STALE_AFTER,
    fbar_filing_record,
    fbar_monitor_run,
    fbar_settings_save,
)
from treasury.fbar.status import fbar_status_items
from treasury.fbar.tests.factories import lines, wise_account
from treasury.fx.tests.factories import treasury

TODAY = date(2025, 7, 15)


def seed_usd(amount: str = "8500.00"):
    """A Wise USD balance: no rate needed, so dollars are the balance itself."""
    account = wise_account("USD")
    lines(account, (date(2025, 3, 1), amount))
    return account


@pytest.mark.django_db
def test_the_first_run_stores_the_year_for_the_dashboard():
    # 8,500.00 USD: $8,500 = 85% → 80% reached on Mar 1, headroom $1,500.
    seed_usd()

    fbar_monitor_run(today=TODAY)

    state = MonitorState.objects.get(year=2025)
    assert (state.aggregate_usd, state.percent_reached, state.warned_on, state.crossed_on) == (
        8500, 80, date(2025, 3, 1), None,
    )  # fmt: skip
    assert state.is_estimate
    assert state.as_of == TODAY
    # Last year is watched too: its filing is due, overdue or filed.
    assert MonitorState.objects.filter(year=2024).exists()


@pytest.mark.django_db
def test_alerts_fire_once_at_each_threshold_and_not_again_on_the_next_sync(settings):
    settings.ALERT_EMAILS = ["owner@example.com"]
    account = seed_usd("8500.00")

    fbar_monitor_run(today=TODAY)
    assert [m.subject for m in mail.outbox] == ["FBAR 2025: 80% of the $10,000 line"]
    assert mail.outbox[0].to == ["owner@example.com"]
    assert "Headroom left: $1,500" in mail.outbox[0].body

    # The next sync brings a line that keeps it under the line: no new email.
    lines(account, (date(2025, 7, 1), "100.00"))
    fbar_monitor_run(today=TODAY)
    assert len(mail.outbox) == 1

    # A sync takes it over $10,000 (8,600 + 1,500.01 → $10,101): the 100% alert, once.
    lines(account, (date(2025, 7, 14), "1500.01"))
    fbar_monitor_run(today=TODAY)
    fbar_monitor_run(today=TODAY + timedelta(days=1))
    assert [m.subject for m in mail.outbox] == [
        "FBAR 2025: 80% of the $10,000 line",
        "FBAR 2025: over $10,000, FinCEN 114 is required",
    ]
    assert "went over $10,000" in mail.outbox[1].body
    assert "2026-04-15" in mail.outbox[1].body
    assert "2026-10-15" in mail.outbox[1].body
    alerts = ThresholdAlert.objects.filter(year=2025).order_by("percent")
    assert [(a.percent, a.status, a.reached_on) for a in alerts] == [
        (80, "SENT", date(2025, 3, 1)),
        (100, "SENT", date(2025, 7, 14)),
    ]


@pytest.mark.django_db
def test_a_first_run_past_both_lines_sends_one_email(owner):
    # No ALERT_EMAILS: the owners' addresses.
    seed_usd("12000.00")

    fbar_monitor_run(today=TODAY)
    fbar_monitor_run(today=TODAY)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    assert "FinCEN 114 is required" in mail.outbox[0].subject
    assert set(ThresholdAlert.objects.values_list("percent", "status")) == {
        (80, "SENT"), (100, "SENT"),
    }  # fmt: skip


@pytest.mark.django_db
def test_no_alert_for_someone_who_is_not_a_us_person(settings):
    settings.ALERT_EMAILS = ["owner@example.com"]
    fbar_settings_save(is_us_person=False, filing_status="SINGLE", residence="US", user=None)
    seed_usd("12000.00")

    fbar_monitor_run(today=TODAY)

    assert mail.outbox == []
    assert not MonitorState.objects.get(year=2025).filing_required


class BrokenMail:
    """An email backend whose server is down."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server refused the connection")


@pytest.mark.django_db
def test_a_failed_send_is_kept_and_retried_by_the_next_run(settings):
    settings.ALERT_EMAILS = ["owner@example.com"]
    settings.EMAIL_BACKEND = "treasury.fbar.tests.test_monitor.BrokenMail"
    seed_usd("8500.00")

    fbar_monitor_run(today=TODAY)
    alert = ThresholdAlert.objects.get(year=2025, percent=80)
    assert alert.status == "FAILED"
    assert "refused" in alert.error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    fbar_monitor_run(today=TODAY)
    fbar_monitor_run(today=TODAY)

    assert len(mail.outbox) == 1
    alert.refresh_from_db()
    assert (alert.status, alert.error) == ("SENT", "")


@pytest.mark.django_db
def test_a_claim_left_by_a_crash_is_taken_over_only_once_stale(settings):
    settings.ALERT_EMAILS = ["owner@example.com"]
    seed_usd("8500.00")
    claim = ThresholdAlert.objects.create(
        year=2025, percent=80, aggregate_usd=8500, reached_on=date(2025, 3, 1)
    )  # a run claimed it, then its worker died before sending

    fbar_monitor_run(today=TODAY)
    assert mail.outbox == []  # another run may still be sending

    ThresholdAlert.objects.filter(pk=claim.pk).update(
        claimed_at=timezone.now() - STALE_AFTER - timedelta(seconds=1)
    )
    fbar_monitor_run(today=TODAY)
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_monitors_send_each_alert_once(settings):
    settings.ALERT_EMAILS = ["owner@example.com"]
    seed_usd("12000.00")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def monitor() -> None:
        try:
            barrier.wait(timeout=10)
            fbar_monitor_run(today=TODAY)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=monitor) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(mail.outbox) == 1
    assert ThresholdAlert.objects.count() == 2
    assert set(ThresholdAlert.objects.values_list("status", flat=True)) == {"SENT"}


# --- the dashboard's items ---------------------------------------------------------------


@pytest.mark.django_db
def test_status_items_read_the_stored_result_in_one_query(django_assert_num_queries):
    seed_usd("8500.00")
    fbar_monitor_run(today=TODAY)

    with django_assert_num_queries(1):
        items = fbar_status_items(TODAY)

    (item,) = items
    assert item.key == "fbar.current"
    assert item.level == "warn"
    assert item.value == "$8,500 of $10,000 (estimate)"
    assert "headroom $1,500" in item.detail
    assert item.url == "/fbar/2025/"


@pytest.mark.django_db
def test_status_items_over_the_line_and_last_years_filing():
    # 2024: 11,000.00 USD (required). 2025 so far: 12,000.00 → over since Mar 1.
    account = wise_account("USD")
    lines(account, (date(2024, 5, 1), "11000.00"), (date(2024, 6, 1), "-11000.00"))
    lines(account, (date(2025, 3, 1), "12000.00"))
    fbar_monitor_run(today=TODAY)

    current, previous = fbar_status_items(TODAY)

    assert (current.level, current.detail.split(":")[0]) == (
        "error", "Over the line since 2025-03-01",
    )  # fmt: skip
    assert previous.key == "fbar.previous"
    assert previous.value == "FinCEN 114 required, due 2025-10-15"
    assert "2025-04-15" in previous.detail
    assert "2025-10-15" in previous.detail
    # After October 15 without a filing recorded, last year is overdue...
    overdue = fbar_status_items(date(2025, 10, 16))[1]
    assert (overdue.level, overdue.value) == ("error", "FinCEN 114 overdue since 2025-10-16")
    # ...until the owner records the day it was filed: then it is done.
    fbar_filing_record(year=2024, filed_on=date(2025, 10, 20), reference="", user=None,
                       today=date(2025, 10, 21))  # fmt: skip
    assert [i.key for i in fbar_status_items(date(2025, 10, 21))] == ["fbar.current"]


@pytest.mark.django_db
def test_status_items_before_any_run_and_when_stale():
    (item,) = fbar_status_items(TODAY)
    assert (item.level, item.value) == ("info", "not computed yet")

    fbar_monitor_run(today=TODAY)
    MonitorState.objects.update(computed_at=datetime(2025, 7, 1, tzinfo=UTC))
    (item,) = fbar_status_items(TODAY)
    assert item.level == "warn"
    assert "is the worker running?" in item.detail


@pytest.mark.django_db
def test_settings_default_to_a_us_person_filing_single_in_the_us():
    from treasury.fbar.selectors import fbar_settings

    default = fbar_settings()
    assert (default.is_us_person, default.filing_status, default.residence) == (
        True,
        "SINGLE",
        "US",
    )
    assert not FbarSettings.objects.exists()  # nothing written by reading


@pytest.mark.django_db
def test_a_new_treasury_report_changes_the_estimate_without_new_lines():
    # 8,500.00 EUR at 0.92 → $9,240; the June report (0.85) → $10,000 exactly; no alert at
    # 100% (not over), the 80% one sent once.
    treasury(date(2025, 3, 31), "EUR", "0.92")
    eur = wise_account("EUR")
    lines(eur, (date(2025, 4, 1), "8500.00"))
    fbar_monitor_run(today=TODAY)
    assert MonitorState.objects.get(year=2025).aggregate_usd == 9240

    treasury(date(2025, 6, 30), "EUR", "0.85")
    fbar_monitor_run(today=TODAY)

    state = MonitorState.objects.get(year=2025)
    assert (state.aggregate_usd, state.crossed_on) == (10000, None)
    assert list(ThresholdAlert.objects.values_list("percent", flat=True)) == [80]


# --- when the monitor runs -----------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch):
    """The monitor runs the worker was asked for (the broker is not the point here)."""
    from django.core.cache import cache

    from treasury.fbar import tasks
    from treasury.fbar.services import MONITOR_QUEUED_KEY

    cache.delete(MONITOR_QUEUED_KEY)
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.monitor_run, "delay", lambda *args: calls.append(args))
    yield calls
    cache.delete(MONITOR_QUEUED_KEY)


@pytest.mark.django_db
def test_a_sync_of_a_foreign_account_queues_one_monitor_run(
    queued, django_capture_on_commit_callbacks
):
    foreign, home = wise_account("USD"), wise_account("EUR", foreign=False)
    with django_capture_on_commit_callbacks(execute=True):
        lines(home, (date(2025, 3, 1), "10.00"))
    assert queued == []  # not a foreign account: FBAR figures did not move

    with django_capture_on_commit_callbacks(execute=True):
        lines(foreign, (date(2025, 3, 1), "10.00"))
    with django_capture_on_commit_callbacks(execute=True):
        lines(foreign, (date(2025, 3, 2), "10.00"))
    assert queued == [()]  # the second sync is covered by the run already queued

    from treasury.fbar.tasks import monitor_run

    with time_machine.travel(datetime(2025, 7, 15, 7, 10, tzinfo=UTC), tick=False):
        outcome = monitor_run.run()  # the worker takes it: later changes queue again
    assert outcome == {"years": {"2025": 20, "2024": 0}, "alerts_sent": []}
    with django_capture_on_commit_callbacks(execute=True):
        lines(foreign, (date(2025, 3, 3), "10.00"))
    assert queued == [(), ()]
