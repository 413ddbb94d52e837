"""Fetching and storing: backfill, incremental updates, reruns, failures that store
nothing, the Wise fetcher, and audited owner overrides."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from threading import Barrier, Thread

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from accounts.models import SyncRun
from accounts.tests.factories import CashAccountFactory
from simulators.ecb.fixtures import ECB_TODAY
from simulators.treasury.fixtures import TREASURY_TODAY
from treasury.fx import tasks
from treasury.fx.currencies import treasury_currency, treasury_old_unit
from treasury.fx.models import OverrideLog, Rate, Source
from treasury.fx.services import (
    OverrideError,
    ecb_fetch_due,
    ecb_fetch_plan,
    override_remove,
    override_set,
    rates_fetch,
    rates_fetch_enqueue,
    rates_store,
)
from treasury.fx.sources import ParsedRate
from treasury.fx.sources.http import RatesHttp, RatesMalformed
from treasury.fx.tests.factories import RateFactory

D = Decimal
pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 18) -> datetime:
    """A moment on `day` (18:00 UTC: after the ECB's 16:00 CET publication)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def quick() -> RatesHttp:
    return RatesHttp(sleep=lambda seconds: None, timeout=10)


def stored(source: str = Source.ECB) -> set[tuple[date, str, Decimal]]:
    return set(Rate.objects.filter(source=source).values_list("date", "quote", "rate"))


def published(simulator) -> set[tuple[date, str, Decimal]]:
    return {(day, code, rate) for day, rates in simulator.days() for code, rate in rates}


# --- ECB -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_first_fetch_backfills_the_whole_ecb_history_exactly(ecb_full_history):
    outcome = rates_fetch(source="ECB", now=at(ECB_TODAY), http=quick())
    assert outcome.status == SyncRun.Status.SUCCEEDED
    assert outcome.mode == "hist"
    expected = published(ecb_full_history)
    assert len(expected) > 200_000
    assert stored() == expected  # every rate since 1999, digit for digit
    run = SyncRun.objects.get(pk=outcome.run_id)
    assert (run.kind, run.label, run.percent, run.created_count) == (
        "RATES",
        "ECB",
        100,
        len(expected),
    )
    again = rates_fetch(source="ECB", now=at(ECB_TODAY), http=quick())
    assert (again.mode, again.result.created, again.result.updated) == ("daily", 0, 0)


def test_each_run_takes_the_smallest_file_that_closes_the_gap(ecb_simulator):
    first = rates_fetch(source="ECB", now=at(ECB_TODAY), http=quick())
    assert first.mode == "hist"
    assert stored() == published(ecb_simulator)

    ecb_simulator.today = next_day = date(2025, 7, 1)
    daily = rates_fetch(source="ECB", now=at(next_day), http=quick())
    assert (daily.mode, daily.result.created, daily.result.unchanged) == ("daily", 30, 0)

    ecb_simulator.today = later = date(2025, 8, 15)
    catch_up = rates_fetch(source="ECB", now=at(later), http=quick())
    assert catch_up.mode == "90d"
    assert stored() == published(ecb_simulator)
    assert [r.path.rsplit("/", 1)[1] for r in ecb_simulator.requests] == [
        "eurofxref-hist.zip", "eurofxref-daily.xml", "eurofxref-hist-90d.xml",
    ]  # fmt: skip


def test_since_refetches_from_a_date_and_repairs_a_changed_rate(ecb_simulator):
    rates_fetch(source="ECB", now=at(ECB_TODAY), http=quick())
    wrong = Rate.objects.get(source="ECB", quote="USD", date=date(2025, 6, 27))
    right = wrong.rate
    Rate.objects.filter(pk=wrong.pk).update(rate=D("9.9999"))
    outcome = rates_fetch(source="ECB", since=date(2025, 6, 1), now=at(ECB_TODAY), http=quick())
    assert (outcome.mode, outcome.result.updated) == ("90d", 1)
    assert outcome.result.first_date >= date(2025, 6, 1)
    assert Rate.objects.get(pk=wrong.pk).rate == right


def test_ecb_plan():
    now = at(date(2025, 6, 30))  # Monday evening: that day is published
    assert ecb_fetch_plan(latest=None, since=None, now=now) == "hist"
    assert ecb_fetch_plan(latest=date(2025, 6, 27), since=None, now=now) == "daily"  # Friday
    assert ecb_fetch_plan(latest=date(2025, 6, 26), since=None, now=now) == "90d"
    assert ecb_fetch_plan(latest=date(2025, 1, 2), since=None, now=now) == "hist"
    assert ecb_fetch_plan(latest=date(2025, 6, 30), since=date(2010, 1, 1), now=now) == "hist"


def test_ecb_is_due_only_once_a_new_day_is_published():
    RateFactory(date=date(2025, 6, 27))  # Friday
    assert not ecb_fetch_due(now=at(date(2025, 6, 28)))  # Saturday
    assert not ecb_fetch_due(now=datetime(2025, 6, 30, 13, 0, tzinfo=UTC))  # Monday, 15:00 CEST
    assert ecb_fetch_due(now=datetime(2025, 6, 30, 14, 45, tzinfo=UTC))  # Monday, 16:45 CEST


def test_a_malformed_answer_stores_nothing_and_says_why(ecb_simulator):
    ecb_simulator.set_faults(malformed_rate=1.0)
    outcome = rates_fetch(source="ECB", now=at(ECB_TODAY), http=quick())
    assert outcome.status == SyncRun.Status.FAILED
    assert "RatesMalformed" in outcome.message
    assert Rate.objects.count() == 0
    run = SyncRun.objects.get(pk=outcome.run_id)
    assert run.status == SyncRun.Status.FAILED
    assert "zip" in run.error


def test_an_unreachable_source_fails_cleanly(ecb_simulator, settings):
    ecb_simulator.set_faults(error_rate=1.0)
    outcome = rates_fetch(source="ECB", now=at(ECB_TODAY), http=quick())
    assert outcome.status == SyncRun.Status.FAILED
    assert "SourceUnavailable" in outcome.message
    assert Rate.objects.count() == 0


def test_a_second_runner_skips_while_one_is_running(ecb_simulator):
    SyncRun.objects.create(kind="RATES", label="ECB", status="RUNNING", started_at=timezone.now())
    outcome = rates_fetch(source="ECB", http=quick())
    assert outcome.status == SyncRun.Status.SKIPPED
    assert ecb_simulator.requests == []
    stale = timezone.now() - timedelta(hours=1)  # a run killed an hour ago holds nothing
    SyncRun.objects.update(started_at=stale)
    assert rates_fetch(source="ECB", now=at(ECB_TODAY), http=quick()).status == "SUCCEEDED"


def test_the_page_queues_a_fetch_the_worker_carries_on(
    ecb_simulator, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.fetch_rates, "delay", lambda **kwargs: queued.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        run = rates_fetch_enqueue(source="ECB")
        assert rates_fetch_enqueue(source="ECB") == run  # a double click queues one fetch
    assert queued == [{"source": "ECB", "run_id": run.pk}]
    assert run.status == SyncRun.Status.QUEUED
    result = tasks.fetch_rates(**queued[0])
    run.refresh_from_db()
    assert (result["status"], run.status, run.percent) == ("SUCCEEDED", "SUCCEEDED", 100)
    assert SyncRun.objects.count() == 1


# --- storing -------------------------------------------------------------------------------


def parsed(day: date, quote: str, rate: str, source: str = "ECB") -> ParsedRate:
    base = {"ECB": "EUR", "TREASURY": "USD", "WISE": "USD"}[source]
    record = day if source == "TREASURY" else None
    return ParsedRate(
        source=source, base=base, quote=quote, date=day, rate=D(rate), record_date=record
    )


def test_store_is_an_idempotent_upsert():
    day = date(2025, 6, 2)
    first = rates_store(rates=[parsed(day, "USD", "1.14"), parsed(day, "JPY", "163.2")])
    again = rates_store(rates=[parsed(day, "USD", "1.14"), parsed(day, "JPY", "163.25")])
    assert (first.created, again.created, again.updated, again.unchanged) == (2, 0, 1, 1)
    assert stored() == {(day, "USD", D("1.14")), (day, "JPY", D("163.25"))}


def test_store_refuses_a_batch_with_any_bad_rate_and_stores_none_of_it():
    day = date(2025, 6, 2)
    with pytest.raises(RatesMalformed, match="two rates"):
        rates_store(rates=[parsed(day, "USD", "1.14"), parsed(day, "USD", "1.15")])
    with pytest.raises(RatesMalformed, match="significant digits"):
        rates_store(rates=[parsed(day, "USD", "1.14"), parsed(day, "JPY", "163.1234567890123456")])
    assert Rate.objects.count() == 0


def test_fifteen_significant_digits_round_trip_exactly():
    day = date(2025, 6, 2)
    rates_store(
        rates=[parsed(day, "IDR", "17487.3512345678"), parsed(day, "KWD", "0.000000305123")]
    )
    assert stored() == {
        (date(2025, 6, 2), "IDR", D("17487.3512345678")),
        (date(2025, 6, 2), "KWD", D("0.000000305123")),
    }


# --- Treasury ------------------------------------------------------------------------------


def test_treasury_first_fetch_takes_every_report_then_only_recent_ones(treasury_simulator):
    first = rates_fetch(source="TREASURY", now=at(TREASURY_TODAY), http=quick())
    assert first.status == SyncRun.Status.SUCCEEDED
    assert first.mode == "since 2001-03-31"
    rows = Rate.objects.filter(source="TREASURY")
    assert rows.filter(record_date=date(2001, 3, 31)).exists()
    assert rows.filter(date__gt=F("record_date")).exists()  # amendments, effective later
    treasury_simulator.requests.clear()
    again = rates_fetch(source="TREASURY", now=at(TREASURY_TODAY), http=quick())
    assert (again.result.created, again.result.updated) == (0, 0)
    assert again.mode == "since 2025-03-30"  # one report back from 2025-06-30
    assert treasury_simulator.requests[0].query["filter"][0].endswith("record_date:gte:2025-03-30")


# --- Wise ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeWiseRate:
    rate: Decimal
    source: str
    target: str
    time: datetime


class FakeWiseClient:
    """The Wise client's `rates(...)` interface, answering from a table."""

    def __init__(self, table: dict[str, list[tuple[datetime, str]]], wrong_pair: bool = False):
        self.table, self.wrong_pair, self.calls = table, wrong_pair, []

    def rates(self, *, source, target, at=None, start=None, end=None, group=None):
        self.calls.append({"source": source, "target": target, "start": start, "group": group})
        shown = "GBP" if self.wrong_pair else target
        return [
            FakeWiseRate(D(rate), source, shown, when) for when, rate in self.table.get(target, [])
        ]


def test_wise_backfills_daily_then_keeps_the_latest_quote_of_each_day(settings):
    settings.BASE_CURRENCY = "USD"
    CashAccountFactory(currency="EUR")
    CashAccountFactory(currency="JPY")
    t = datetime(2025, 6, 30, 9, tzinfo=UTC)
    client = FakeWiseClient(
        {"EUR": [(t - timedelta(days=1), "0.8541"), (t, "0.8533")], "JPY": [(t, "144.21")]}
    )
    first = rates_fetch(source="WISE", now=t, wise_client=client)
    assert first.mode == "daily history"
    assert [c["group"] for c in client.calls] == ["day", "day"]
    assert stored("WISE") == {
        (date(2025, 6, 29), "EUR", D("0.8541")), (date(2025, 6, 30), "EUR", D("0.8533")),
        (date(2025, 6, 30), "JPY", D("144.21")),
    }  # fmt: skip
    later = FakeWiseClient({"EUR": [(t + timedelta(hours=3), "0.8520")], "JPY": [(t, "144.21")]})
    hourly = rates_fetch(source="WISE", now=t + timedelta(hours=3), wise_client=later)
    assert hourly.mode == "current"
    assert (hourly.result.updated, hourly.result.unchanged) == (1, 1)
    row = Rate.objects.get(source="WISE", quote="EUR", date=date(2025, 6, 30))
    assert (row.base, row.rate, row.observed_at) == ("USD", D("0.8520"), t + timedelta(hours=3))


def test_wise_answering_another_pair_stores_nothing():
    CashAccountFactory(currency="EUR")
    client = FakeWiseClient({"EUR": [(datetime(2025, 6, 30, tzinfo=UTC), "0.85")]}, wrong_pair=True)
    outcome = rates_fetch(source="WISE", wise_client=client)
    assert outcome.status == SyncRun.Status.FAILED
    assert "when asked for" in outcome.message
    assert not Rate.objects.exists()


def test_wise_not_connected_is_skipped_without_a_log_row():
    outcome = rates_fetch(source="WISE")
    assert (outcome.status, outcome.message) == ("SKIPPED", "Wise is not connected.")
    assert not SyncRun.objects.exists()


# --- overrides -----------------------------------------------------------------------------


def test_overrides_are_audited_set_replace_remove(owner):
    day = date(2025, 6, 2)
    first = override_set(
        user=owner, base="usd", quote="AED", on=day, rate=D("3.6725"), reason="Peg"
    )
    again = override_set(
        user=owner, base="USD", quote="AED", on=day, rate=D("3.6730"), reason="Bank rate"
    )
    assert first.pk == again.pk
    assert (again.rate, again.entered_by, again.reason) == (D("3.6730"), owner, "Bank rate")
    override_remove(user=owner, rate_id=again.pk, reason="Wise quotes AED now")
    assert not Rate.objects.filter(source="MANUAL").exists()
    log = [(e.action, e.old_rate, e.new_rate, e.reason) for e in OverrideLog.objects.order_by("id")]
    assert log == [
        ("SET", None, D("3.6725"), "Peg"),
        ("SET", D("3.6725"), D("3.6730"), "Bank rate"),
        ("REMOVE", D("3.6730"), None, "Wise quotes AED now"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quote": "USD"}, "two different currencies"),
        ({"reason": "  "}, "Say why"),
        ({"rate": D("-1")}, "not positive"),
        ({"quote": "XYZ"}, "ISO 4217"),
    ],
)
def test_a_bad_override_changes_nothing(owner, kwargs, message):
    values = {
        "base": "USD",
        "quote": "AED",
        "on": date(2025, 6, 2),
        "rate": D("3.67"),
        "reason": "Peg",
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        override_set(user=owner, **values)
    assert not Rate.objects.exists()
    assert not OverrideLog.objects.exists()


def test_an_override_of_the_reverse_pair_on_the_same_day_is_refused(owner):
    day = date(2025, 6, 2)
    override_set(user=owner, base="USD", quote="AED", on=day, rate=D("3.67"), reason="Peg")
    with pytest.raises(OverrideError, match="override for USD/AED on 2025-06-02 exists"):
        override_set(user=owner, base="AED", quote="USD", on=day, rate=D("0.27"), reason="x")


@pytest.mark.django_db(transaction=True)
def test_two_fetches_at_once_end_with_the_rows_of_one(treasury_simulator):
    start, outcomes = Barrier(2), []

    def fetch() -> None:
        try:
            start.wait()
            outcomes.append(rates_fetch(source="TREASURY", now=at(TREASURY_TODAY), http=quick()))
        finally:
            connection.close()

    threads = [Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.status for o in outcomes) in (["SKIPPED", "SUCCEEDED"], ["SUCCEEDED"] * 2)
    published = {
        (row.effective_date, treasury_currency(row.country_currency_desc), D(row.exchange_rate))
        for row in treasury_simulator.rows()
        if treasury_currency(row.country_currency_desc)
        and not treasury_old_unit(row.country_currency_desc, row.effective_date)
    }
    assert stored("TREASURY") == published


def test_the_wise_integration_plugs_its_client_in(monkeypatch):
    from treasury.fx import services

    CashAccountFactory(currency="EUR")
    client = FakeWiseClient({"EUR": [(datetime(2025, 6, 30, 9, tzinfo=UTC), "0.8533")]})
    monkeypatch.setattr(services, "_wise_client_factory", None)
    services.wise_client_factory_register(lambda: client)
    assert rates_fetch(source="WISE").status == SyncRun.Status.SUCCEEDED
    assert client.calls
    services.wise_client_factory_register(lambda: None)  # disconnected again
    assert rates_fetch(source="WISE").message == "Wise is not connected."
