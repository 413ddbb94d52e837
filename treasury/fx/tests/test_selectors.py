"""Reads: the Treasury rates FBAR needs, the overview table, pair histories and gaps."""

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest

from simulators.treasury.fixtures import TREASURY_TODAY
from treasury.fx.calendar import target_days
from treasury.fx.convert import PRECISION
from treasury.fx.models import Source
from treasury.fx.selectors import (
    fetch_status,
    pair_history,
    rates_overview,
    treasury_latest_rate,
    treasury_year_end_rate,
    treasury_year_end_rates,
)
from treasury.fx.services import rates_fetch
from treasury.fx.sources.http import RatesHttp
from treasury.fx.tests.factories import RateFactory, ecb, treasury

D = Decimal
pytestmark = pytest.mark.django_db


# --- Treasury for FBAR ---------------------------------------------------------------------


def test_year_end_rate_is_the_december_report_without_its_january_amendment():
    treasury(date(2024, 9, 30), "ARS", "970.0")
    treasury(date(2024, 9, 30), "ARS", "1100.0", effective=date(2024, 11, 18))
    treasury(date(2024, 12, 31), "ARS", "1023.0")
    treasury(date(2024, 12, 31), "ARS", "1190.0", effective=date(2025, 2, 13))
    rate = treasury_year_end_rate("ARS", 2024)
    assert (rate.rate, rate.record_date, rate.effective_date) == (
        D("1023.0"), date(2024, 12, 31), date(2024, 12, 31),
    )  # fmt: skip
    usd = rate.to_usd(D("15265.25")).rounded(ROUND_CEILING)  # FBAR rounds up to whole dollars
    assert usd == D("14.93")
    assert treasury_latest_rate("ARS", on=date(2025, 3, 1)).rate == D("1190.0")
    assert treasury_latest_rate("ARS", on=date(2024, 12, 1)).rate == D("1100.0")


def test_year_end_rate_takes_a_december_amendment_effective_by_the_31st():
    treasury(date(2024, 12, 31), "EGP", "50.6", effective=date(2024, 12, 31))
    treasury(date(2024, 12, 31), "EGP", "49.0", effective=date(2024, 12, 15))
    assert treasury_year_end_rate("EGP", 2024).rate == D("50.6")  # the latest row by Dec 31


def test_no_treasury_rate_is_none_so_fbar_applies_its_fallback():
    treasury(date(2023, 12, 31), "EUR", "0.904")
    assert treasury_year_end_rate("EUR", 2024) is None
    assert treasury_year_end_rate("JPY", 2023) is None
    with pytest.raises(ValueError, match="USD needs no Treasury rate"):
        treasury_year_end_rate("USD", 2024)


def test_year_end_rates_for_many_currencies_in_one_query(django_assert_num_queries):
    for code, rate in (("EUR", "0.961"), ("GBP", "0.797"), ("JPY", "156.9")):
        treasury(date(2024, 12, 31), code, rate)
    with django_assert_num_queries(1):
        rates = treasury_year_end_rates(["EUR", "GBP", "JPY", "CHF"], 2024)
    assert {code: r.rate for code, r in rates.items()} == {
        "EUR": D("0.961"), "GBP": D("0.797"), "JPY": D("156.9"),
    }  # fmt: skip


def test_year_end_rate_from_the_simulator_over_http(treasury_simulator):
    rates_fetch(
        source="TREASURY", now=datetime(2025, 7, 15, tzinfo=UTC),
        http=RatesHttp(sleep=lambda s: None, timeout=10),
    )  # fmt: skip
    published = {
        row.effective_date: row for row in treasury_simulator.rows()
        if row.country_currency_desc == "Argentina-Peso" and row.record_date == date(2024, 12, 31)
    }  # fmt: skip
    assert len(published) == 2  # the report and its amendment
    rate = treasury_year_end_rate("ARS", 2024)
    assert rate.rate == D(published[date(2024, 12, 31)].exchange_rate)
    assert rate.country_currency_desc == "Argentina-Peso"
    assert max(published) < TREASURY_TODAY


# --- overview ------------------------------------------------------------------------------


def test_overview_in_any_base_with_constant_queries(django_assert_num_queries):
    for n in range(3):
        ecb(date(2025, 6, 27) + timedelta(days=n), USD="1.14", JPY=f"16{n}.0", GBP="0.85")
    treasury(date(2025, 6, 30), "EUR", "0.877")
    treasury(date(2025, 6, 30), "JPY", "144.5")
    with django_assert_num_queries(3):  # latest dates, one book per source
        view = rates_overview(base="USD")
    rows = {row.currency: dict(row.cells) for row in view.rows}
    assert set(view.as_of) == {"ECB", "TREASURY"}
    assert rows["JPY"]["ECB"].conversion.rate == PRECISION.divide(D("162.0"), D("1.14"))
    assert rows["JPY"]["ECB"].change == (D("162.0") / D("161.0") - 1) * 100
    assert rows["JPY"]["TREASURY"].conversion.rate == D("144.5")
    assert rows["GBP"]["TREASURY"] is None  # the Treasury row is not stored: no cell
    assert rates_overview(base="EUR").rows[0].currency == "GBP"


def test_overview_marks_a_currency_without_a_rate_as_missing():
    ecb(date(2025, 6, 27), USD="1.14")
    ecb(date(2025, 6, 13), ISK="142.1")  # two weeks old: outside the window
    assert "ISK" not in {r.currency for r in rates_overview(base="USD").rows}  # no longer quoted
    (row,) = rates_overview(base="USD", only=["ISK", "USD"]).rows  # but held: shown as missing
    cell = dict(row.cells)["ECB"]
    assert cell.conversion is None
    assert "No ECB rate for USD→ISK" in cell.missing


# --- history -------------------------------------------------------------------------------


def test_pair_history_marks_the_days_a_source_skipped():
    start, end = date(2025, 6, 2), date(2025, 6, 13)
    for day in target_days(start, end):
        if day not in (date(2025, 6, 5), date(2025, 6, 6), date(2025, 6, 10)):
            ecb(day, USD="1.14", JPY="163.0")
    history = pair_history(source=Source.ECB, base="USD", quote="JPY", start=start, end=end)
    assert history.expected == 10  # weekdays; weekends are not gaps
    assert history.gaps == [
        (date(2025, 6, 5), date(2025, 6, 6)),
        (date(2025, 6, 10), date(2025, 6, 10)),
    ]
    assert history.missing == 3
    assert set(history.values) == {PRECISION.divide(D("163.0"), D("1.14"))}


def test_treasury_history_follows_reports_and_amendments():
    treasury(date(2024, 9, 30), "ARS", "970.0")
    treasury(date(2024, 9, 30), "ARS", "1100.0", effective=date(2024, 11, 18))
    treasury(date(2025, 3, 31), "ARS", "1070.0")
    history = pair_history(
        source=Source.TREASURY,
        base="USD",
        quote="ARS",
        start=date(2024, 9, 1),
        end=date(2025, 3, 31),
    )
    assert history.points == [
        (date(2024, 9, 30), D("970.0")),
        (date(2024, 11, 18), D("1100.0")),
        (date(2024, 12, 31), None),  # no December report: a gap, not the November rate
        (date(2025, 3, 31), D("1070.0")),
    ]
    assert history.gaps == [(date(2024, 12, 31), date(2024, 12, 31))]


def test_fetch_status_reports_each_source(ecb_simulator):
    rates_fetch(
        source="ECB", now=datetime(2025, 6, 30, 18, tzinfo=UTC),
        http=RatesHttp(sleep=lambda s: None, timeout=10),
    )  # fmt: skip
    RateFactory(source=Source.WISE, base="USD", quote="EUR", rate=D("0.85"))
    statuses = {s.source: s for s in fetch_status()}
    assert statuses["ECB"].last_success.status == "SUCCEEDED"
    assert statuses["ECB"].latest_date == date(2025, 6, 30)
    assert statuses["TREASURY"].last_run is None
    assert statuses["WISE"].latest_date == date(2025, 6, 2)
