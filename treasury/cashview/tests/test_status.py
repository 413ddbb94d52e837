"""The status panel: the registry other apps plug into, and the cash view's own
providers (syncs per source with their age, running jobs with progress and polling,
rates of held currencies, the worker's heartbeat)."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import SyncRun
from accounts.tests.factories import CashAccountFactory
from treasury.cashview import status
from treasury.cashview.status import StatusItem
from treasury.cashview.tests.pages import page_read
from treasury.fx.tests.factories import ecb
from treasury.services import heartbeat_record

pytestmark = pytest.mark.django_db


def items(today: date | None = None) -> dict[str, StatusItem]:
    return {item.key: item for item in status.status_items(today or timezone.localdate())}


def run(kind: str, state: str, *, ago: timedelta, label: str = "", **extra) -> SyncRun:
    moment = timezone.now() - ago
    finished = moment if state in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED) else None
    return SyncRun.objects.create(
        kind=kind, status=state, label=label, started_at=moment, finished_at=finished, **extra
    )


def test_each_source_shows_its_last_success_and_age():
    run(SyncRun.Kind.WISE_STATEMENTS, SyncRun.Status.SUCCEEDED, ago=timedelta(days=3))
    run(SyncRun.Kind.WISE_STATEMENTS, SyncRun.Status.SUCCEEDED, ago=timedelta(hours=2))
    run(SyncRun.Kind.RATES, SyncRun.Status.SUCCEEDED, ago=timedelta(days=6), label="ECB")
    run(SyncRun.Kind.RATES, SyncRun.Status.SUCCEEDED, ago=timedelta(hours=1), label="TREASURY")
    run(SyncRun.Kind.XERO_PUSH, SyncRun.Status.SUCCEEDED, ago=timedelta(hours=5))
    run(SyncRun.Kind.XERO_PUSH, SyncRun.Status.FAILED, ago=timedelta(hours=1))
    run(SyncRun.Kind.FILE_IMPORT, SyncRun.Status.SUCCEEDED, ago=timedelta(days=40), label="a.csv")
    found = items()
    statements = found["sync.WISE_STATEMENTS"]
    assert (statements.level, statements.value) == ("ok", "2\xa0hours ago")
    assert statements.url is None or statements.url.startswith("/accounts")
    assert found["sync.RATES.ECB"].level == "warn"  # six days without a successful fetch
    assert found["sync.RATES.ECB"].url == "/rates/"
    assert found["sync.RATES.TREASURY"].level == "ok"
    push = found["sync.XERO_PUSH"]
    assert (push.level, push.value, push.url) == ("error", "failed", "/books/xero/")
    assert "last success 5\xa0hours ago" in push.detail
    assert found["sync.FILE_IMPORT"].level == "ok"  # files come when people bring them
    assert "sync.WISE_BALANCES" not in found  # never ran: nothing to say
    assert "sync.XERO_PULL" not in found


def test_a_running_job_shows_progress_and_the_panel_polls_until_it_ends(owner_client):
    CashAccountFactory(currency="USD")
    job = run(
        SyncRun.Kind.WISE_STATEMENTS, SyncRun.Status.RUNNING, ago=timedelta(minutes=2),
        progress_done=40, progress_total=100,
    )  # fmt: skip
    item = items()[f"running.{job.pk}"]
    assert (item.progress, item.value, item.level) == (40, "40%", "info")
    assert "40 of 100" in item.detail
    page = page_read(owner_client.get("/").content)
    panel = page.tree.get_element_by_id("status")
    assert panel.get("hx-trigger") == "every 2s"
    assert panel.get("hx-get") == "/?polling=1"
    assert panel.xpath('.//div[@role="progressbar"]')[0].get("aria-valuenow") == "40"

    polled = owner_client.get("/?polling=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="status")
    assert polled.content.decode().lstrip().startswith('<aside class="card cash-status"')
    job.status, job.finished_at = SyncRun.Status.SUCCEEDED, timezone.now()
    job.save()
    done = owner_client.get("/?polling=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="status")
    assert done["HX-Refresh"] == "true"  # the new figures are on the page now
    assert "hx-trigger" not in owner_client.get("/").content.decode().split('id="status"')[1][:200]


def test_a_job_stuck_for_hours_is_a_warning_and_an_old_one_is_forgotten():
    slow = run(SyncRun.Kind.XERO_PUSH, SyncRun.Status.RUNNING, ago=timedelta(hours=2))
    dead = run(SyncRun.Kind.XERO_PUSH, SyncRun.Status.RUNNING, ago=timedelta(days=2))
    found = items()
    assert found[f"running.{slow.pk}"].level == "warn"
    assert f"running.{dead.pk}" not in found


def test_rates_of_held_currencies_missing_stale_or_fine(settings):
    settings.BASE_CURRENCY = "USD"
    CashAccountFactory(currency="EUR")
    CashAccountFactory(currency="GBP")
    today = date(2025, 6, 30)
    missing = items(today)["rates.missing"]
    assert (missing.level, missing.url) == ("error", "/rates/")
    assert missing.value == "missing for EUR, GBP"
    ecb(date(2025, 6, 24), USD="1.14", GBP="0.85")  # six days old: inside the window, stale
    stale = items(today)["rates.stale"]
    assert stale.level == "warn"
    assert "EUR (2025-06-24)" in stale.value
    ecb(date(2025, 6, 30), USD="1.15", GBP="0.86")
    fine = items(today)["rates.ok"]
    assert (fine.level, fine.value) == ("ok", "ECB 2025-06-30")


def test_the_worker_heartbeat(settings):
    found = items()["worker"]
    assert (found.level, found.value) == ("warn", "not seen yet")
    heartbeat_record(name="worker")
    assert items()["worker"].level == "ok"


def test_other_apps_plug_in_and_a_failing_provider_never_breaks_the_page(
    owner_client, status_registry
):
    CashAccountFactory(currency="USD")

    def mismatches(today):
        return [StatusItem("recon.open", "Open mismatches", "3 open", "warn", "/recon/")]

    def broken(today):
        raise RuntimeError("boom")

    status_registry.register_status_provider(mismatches)
    status_registry.register_status_provider(mismatches)  # once only
    status_registry.register_status_provider(broken)
    response = owner_client.get("/")
    assert response.status_code == 200
    page = page_read(response.content)
    panel = page.tree.get_element_by_id("status")
    assert len(panel.xpath('.//li[@data-key="recon.open"]')) == 1
    assert "3 open" in page.text('//li[@data-key="recon.open"]')
    failed = panel.xpath('.//li[@data-level="error"]')
    assert any("unavailable" in li.text_content() for li in failed)
    # Problems first: errors, then warnings, then the rest.
    levels = [li.get("data-level") for li in panel.xpath(".//li[@data-level]")]
    assert levels == sorted(levels, key=lambda level: status.LEVEL_ORDER[level])
