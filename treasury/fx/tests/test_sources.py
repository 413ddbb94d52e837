"""The fetchers read each source's published format exactly, over real HTTP from the
simulators, and refuse anything else; one retry loop covers network trouble."""

import io
import zipfile
from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from simulators.ecb.data import FIRST_DAY
from simulators.ecb.fixtures import ECB_TODAY
from treasury.fx.currencies import (
    ECB_CURRENCIES,
    TREASURY_ALIASES,
    TREASURY_DESCRIPTIONS,
    WISE_CURRENCIES,
    treasury_currency,
)
from treasury.fx.sources.ecb import ecb_fetch, ecb_parse_csv_zip, ecb_parse_xml
from treasury.fx.sources.http import RatesHttp, RatesMalformed, SourceRefused, SourceUnavailable
from treasury.fx.sources.treasury import treasury_fetch, treasury_parse_rows

# A verbatim copy of the ECB's daily file as published (28 June 2024), whitespace and
# single quotes included.
ECB_DAILY_2024_06_28 = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
\t\t<Cube time='2024-06-28'>
\t\t\t<Cube currency='USD' rate='1.0705'/>
\t\t\t<Cube currency='JPY' rate='171.94'/>
\t\t\t<Cube currency='BGN' rate='1.9558'/>
\t\t\t<Cube currency='CZK' rate='25.042'/>
\t\t\t<Cube currency='GBP' rate='0.84638'/>
\t\t\t<Cube currency='HUF' rate='394.90'/>
\t\t\t<Cube currency='IDR' rate='17487.35'/>
\t\t</Cube>
\t</Cube>
</gesmes:Envelope>"""


def quiet_http(**kwargs) -> RatesHttp:
    """Retries without waiting, so fault tests run in milliseconds."""
    return RatesHttp(sleep=lambda seconds: None, timeout=10, **kwargs)


# --- ECB -----------------------------------------------------------------------------------


def test_ecb_daily_xml_as_published():
    rates, skipped = ecb_parse_xml(ECB_DAILY_2024_06_28)
    assert skipped == set()
    assert [(r.base, r.quote, r.date, r.rate) for r in rates[:2]] == [
        ("EUR", "USD", date(2024, 6, 28), Decimal("1.0705")),
        ("EUR", "JPY", date(2024, 6, 28), Decimal("171.94")),
    ]
    assert {r.quote: r.rate for r in rates}["IDR"] == Decimal("17487.35")
    assert {r.source for r in rates} == {"ECB"}


def test_ecb_history_csv_as_published():
    text = (
        "Date,USD,JPY,CYP,ISK,ZAR,\n"
        "2024-06-28,1.0705,171.94,N/A,148.50,19.4970,\n"
        "2008-12-09,1.2795,117.95,N/A,290.00,13.3455,\n"
        "2007-12-31,1.4721,164.93,0.585274,N/A,N/A,\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("eurofxref-hist.csv", text)
    rates, _ = ecb_parse_csv_zip(buffer.getvalue())
    by_key = {(r.date, r.quote): r.rate for r in rates}
    assert len(rates) == 11  # 15 cells less 4 N/A
    assert by_key[(date(2007, 12, 31), "CYP")] == Decimal("0.585274")
    assert (date(2007, 12, 31), "ISK") not in by_key
    assert by_key[(date(2024, 6, 28), "ZAR")] == Decimal("19.4970")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>Maintenance</body></html>",
        ECB_DAILY_2024_06_28.replace(b"rate='1.0705'", b"rate='1,0705'"),
        ECB_DAILY_2024_06_28.replace(b"rate='1.0705'", b"rate='-1.0705'"),
        ECB_DAILY_2024_06_28.replace(b"time='2024-06-28'", b"time='28 June 2024'"),
        ECB_DAILY_2024_06_28[: len(ECB_DAILY_2024_06_28) // 2],
    ],
    ids=["empty", "html", "comma", "negative", "date", "truncated"],
)
def test_ecb_xml_that_is_not_the_format_is_refused(body):
    with pytest.raises(RatesMalformed):
        ecb_parse_xml(body)


def test_ecb_files_over_http_from_the_simulator(ecb_simulator):
    with quiet_http() as http:
        daily = ecb_fetch(http, base_url=ecb_simulator.url, kind="daily")
        days90 = ecb_fetch(http, base_url=ecb_simulator.url, kind="90d")
        hist_xml = ecb_fetch(http, base_url=ecb_simulator.url, kind="hist-xml")
        hist_zip = ecb_fetch(http, base_url=ecb_simulator.url, kind="hist")
    assert {r.date for r in daily.rates} == {ECB_TODAY}
    assert {r.quote for r in daily.rates} == set(ECB_CURRENCIES)  # 30 currencies in mid-2025
    assert daily.rates[0].rate == ecb_simulator.rate("USD", ECB_TODAY)
    assert 60 <= len({r.date for r in days90.rates}) <= 66  # TARGET days in 90 calendar days
    as_tuples = sorted((r.date, r.quote, r.rate) for r in hist_xml.rates)
    assert as_tuples == sorted((r.date, r.quote, r.rate) for r in hist_zip.rates)
    assert min(r.date for r in hist_zip.rates) == date(2024, 1, 2)  # 1 January: TARGET holiday
    paths = [r.path for r in ecb_simulator.requests]
    assert paths == [
        "/stats/eurofxref/eurofxref-daily.xml",
        "/stats/eurofxref/eurofxref-hist-90d.xml",
        "/stats/eurofxref/eurofxref-hist.xml",
        "/stats/eurofxref/eurofxref-hist.zip",
    ]


def test_ecb_full_history_holds_the_real_gaps(ecb_full_history):
    with quiet_http() as http:
        rates = ecb_fetch(http, base_url=ecb_full_history.url, kind="hist").rates
    first = min(r.date for r in rates)
    isk = {r.date for r in rates if r.quote == "ISK"}
    assert first == FIRST_DAY
    assert max(d for d in isk if d.year < 2010) == date(2008, 12, 9)
    assert not [d for d in isk if date(2008, 12, 10) <= d <= date(2017, 12, 29)]
    assert max(r.date for r in rates if r.quote == "RUB") == date(2022, 3, 1)
    assert not [r for r in rates if r.date.month == 12 and r.date.day in (25, 26)]


def test_retries_through_server_errors_and_cut_connections(ecb_simulator):
    ecb_simulator.set_faults(error_rate=0.4, cut_rate=0.3)
    with quiet_http(attempts=30) as http:
        fetched = ecb_fetch(http, base_url=ecb_simulator.url, kind="daily")
    assert {r.date for r in fetched.rates} == {ECB_TODAY}
    faults = {r.fault for r in ecb_simulator.requests}
    assert faults >= {"error", "cut"}


def test_gives_up_after_the_last_attempt_and_names_the_problem(ecb_simulator):
    ecb_simulator.set_faults(error_rate=1.0)
    slept = []
    with (
        RatesHttp(attempts=4, sleep=slept.append, timeout=2) as http,
        pytest.raises(SourceUnavailable, match="failed 4 times; last: HTTP 500"),
    ):
        ecb_fetch(http, base_url=ecb_simulator.url, kind="daily")
    assert len(ecb_simulator.requests) == 4
    assert len(slept) == 3
    assert all(0.25 <= s <= 0.5 * 2**n for n, s in enumerate(slept))  # jittered, doubling


def test_a_malformed_answer_is_not_retried(ecb_simulator):
    ecb_simulator.set_faults(malformed_rate=1.0)
    with quiet_http() as http, pytest.raises(RatesMalformed):
        ecb_fetch(http, base_url=ecb_simulator.url, kind="hist")
    assert len(ecb_simulator.requests) == 1


def test_a_refusal_is_not_retried(ecb_simulator, contract_violations):
    with contract_violations(), quiet_http() as http, pytest.raises(SourceRefused, match="404"):
        http.get(f"{ecb_simulator.url}/stats/eurofxref/nope.xml")  # not an ECB file
    assert len(ecb_simulator.requests) == 1


@respx.mock
def test_429_waits_as_long_as_retry_after_says():
    route = respx.get("https://rates.example/daily.xml").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503),
            httpx.Response(200, content=ECB_DAILY_2024_06_28),
        ]
    )
    slept = []
    with RatesHttp(sleep=slept.append, backoff_base=0.5) as http:
        response = http.get("https://rates.example/daily.xml")
    assert response.status_code == 200
    assert route.call_count == 3
    assert slept[0] == 7  # Retry-After, honoured
    assert 0.5 <= slept[1] <= 1.0  # then the jittered backoff of attempt 2


# --- Treasury ------------------------------------------------------------------------------


def published_rows():
    """Rows as Fiscal Data publishes them: strings only, several per quarter for a
    currency that moved, euro members' own rows, and a country Bulwark does not map."""

    def row(record, desc, rate, effective=None):
        return {
            "record_date": record, "country": desc.split("-")[0], "currency": desc.split("-")[1],
            "country_currency_desc": desc, "exchange_rate": rate,
            "effective_date": effective or record, "src_line_nbr": "1",
        }  # fmt: skip

    return [
        row("2024-12-31", "Euro Zone-Euro", "0.961"),
        row("2024-12-31", "Austria-Euro", "0.961"),
        row("2024-12-31", "Japan-Yen", "156.9"),
        row("2024-12-31", "Argentina-Peso", "1023.0"),
        row("2024-12-31", "Argentina-Peso", "1190.0", "2025-02-13"),
        row("2024-09-30", "Argentina-Peso", "970.0"),
        row("2024-09-30", "Argentina-Peso", "1100.0", "2024-11-18"),
        row("2024-12-31", "Afghanistan-Afghani", "70.61"),
        row("2024-12-31", "Turkey-New Lira", "35.33"),
        row("2004-12-31", "Turkey-Lira", "1430000.0"),
        row("2007-03-31", "Ghana-Cedi", "9250.0"),
        row("2007-09-30", "Ghana-Cedi", "0.935"),
    ]


def test_treasury_rows_as_published():
    rates, skipped, unavailable, old_units = treasury_parse_rows(published_rows())
    assert skipped == 2  # Austria-Euro (the Euro Zone row covers it) and Afghanistan
    assert unavailable == set()
    # Old units are named, never stored as today's currency: the lira by its text, the
    # cedi (one text across its redenomination) by the date.
    assert old_units == {
        "TRL (Turkey-Lira, before 2005-01-01)",
        "GHC (Ghana-Cedi, before 2007-07-01)",
    }
    assert [(r.date, r.rate) for r in rates if r.quote == "TRY"] == [
        (date(2024, 12, 31), Decimal("35.33"))
    ]
    assert [(r.date, r.rate) for r in rates if r.quote == "GHS"] == [
        (date(2007, 9, 30), Decimal("0.935"))
    ]
    ars = [(r.record_date, r.date, r.rate) for r in rates if r.quote == "ARS"]
    assert ars == [
        (date(2024, 9, 30), date(2024, 9, 30), Decimal("970.0")),
        (date(2024, 9, 30), date(2024, 11, 18), Decimal("1100.0")),
        (date(2024, 12, 31), date(2024, 12, 31), Decimal("1023.0")),
        (date(2024, 12, 31), date(2025, 2, 13), Decimal("1190.0")),
    ]
    euro = next(r for r in rates if r.quote == "EUR")
    assert (euro.base, euro.rate, euro.source_key) == ("USD", Decimal("0.961"), "Euro Zone-Euro")


def test_treasury_unavailable_rates_are_named_not_stored():
    rows = published_rows()
    rows[2]["exchange_rate"] = "UNAVAILABLE"
    rates, _, unavailable, _ = treasury_parse_rows(rows)
    assert unavailable == {"JPY"}
    assert "JPY" not in {r.quote for r in rates}


@pytest.mark.parametrize(
    ("field", "value"),
    [("exchange_rate", "0,961"), ("exchange_rate", 0.961), ("record_date", "12/31/2024"),
     ("effective_date", None), ("exchange_rate", "-0.961")],
)  # fmt: skip
def test_treasury_rows_that_are_not_the_format_are_refused(field, value):
    rows = published_rows()
    rows[0][field] = value
    with pytest.raises(RatesMalformed):
        treasury_parse_rows(rows)


def test_treasury_over_http_with_filter_sort_and_paging(treasury_simulator):
    with quiet_http() as http:
        fetched = treasury_fetch(
            http, base_url=treasury_simulator.url, since=date(2022, 1, 1), page_size=100
        )
    requests = treasury_simulator.requests
    assert len(requests) > 5  # paged, 100 rows a page
    first = requests[0].query
    assert first["filter"][0].startswith("country_currency_desc:in:(")
    assert first["filter"][0].endswith(",record_date:gte:2022-01-01")
    assert first["sort"] == ["-record_date,country_currency_desc,-effective_date"]
    assert [r.query["page[number]"] for r in requests] == [
        [str(n)] for n in range(1, len(requests) + 1)
    ]
    published = [
        row for row in treasury_simulator.rows()
        if row.record_date >= date(2022, 1, 1) and treasury_currency(row.country_currency_desc)
    ]  # fmt: skip
    assert len(fetched.rates) == len(published)
    assert {r.base for r in fetched.rates} == {"USD"}
    ars = [r for r in fetched.rates if r.quote == "ARS"]
    per_report = {}
    for rate in ars:
        per_report.setdefault(rate.record_date, []).append(rate.date)
    assert all(len(days) == 2 for days in list(per_report.values())[:-1])  # amended each quarter
    assert all(days[1] > days[0] for days in per_report.values() if len(days) == 2)


def test_the_current_texts_of_the_lev_and_the_kwacha_are_fetched(treasury_simulator):
    with quiet_http() as http:
        fetched = treasury_fetch(
            http, base_url=treasury_simulator.url, since=date(2025, 1, 1),
            currencies=["BGN", "ZMW"],
        )  # fmt: skip
    assert {(r.quote, r.source_key) for r in fetched.rates} == {
        ("BGN", "Bulgaria-Lev New"),
        ("ZMW", "Zambia-New Kwacha"),
    }


def test_a_backfill_from_2001_never_stores_an_old_unit_as_todays_currency(treasury_simulator):
    """The Treasury's historical texts, as the simulator publishes them: the lira, the
    leu, the cedi and the kwacha in their old units before their redenominations."""
    with quiet_http() as http:
        fetched = treasury_fetch(
            http, base_url=treasury_simulator.url, since=date(2001, 1, 1),
            currencies=["TRY", "RON", "GHS", "ZMW"],
        )  # fmt: skip
    first = {}
    for rate in fetched.rates:
        first.setdefault(rate.quote, rate)
    assert {code: rate.date for code, rate in first.items()} == {
        "TRY": date(2005, 3, 31),
        "RON": date(2005, 9, 30),
        "GHS": date(2007, 9, 30),
        "ZMW": date(2013, 3, 31),
    }
    assert max(r.rate for r in fetched.rates if r.quote != "GHS") < 100  # today's units
    # The old units' own texts are not asked for; the cedi's, which it kept, is read and
    # its old-unit rows named instead of stored.
    assert "Turkey-Lira" not in treasury_simulator.requests[0].query["filter"][0]
    assert fetched.notes == (
        "Rates in a currency's old unit, not stored as today's: "
        "GHC (Ghana-Cedi, before 2007-07-01)",
    )


def test_treasury_simulator_refuses_a_bad_filter_like_the_api(treasury_simulator):
    with quiet_http() as http, pytest.raises(SourceRefused, match="Invalid filter field"):
        http.get(
            f"{treasury_simulator.url}/services/api/fiscal_service/v1/accounting/od/rates_of_exchange",
            params={"filter": "iso_code:eq:EUR"},
        )


def test_treasury_maps_every_ecb_and_wise_currency():
    wanted = (set(ECB_CURRENCIES) | set(WISE_CURRENCIES)) - {"USD"}
    assert wanted <= set(TREASURY_DESCRIPTIONS)
    for code, text in [
        *TREASURY_DESCRIPTIONS.items(),
        *((c, t) for t, c in TREASURY_ALIASES.items()),
    ]:
        assert treasury_currency(text) == code
        assert treasury_currency(f"  {text.upper()} ") == code
        assert not set(text) & set("(),"), text  # would break the in:(...) filter
