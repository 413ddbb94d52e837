"""The Treasury simulator: quarterly reports with amendments, and the API's query syntax."""

from datetime import date

import httpx

from simulators.treasury.data import reports
from simulators.treasury.server import PATH, build


def test_reports_are_quarterly_with_amendments_and_stable():
    rows = reports(3, date(2025, 7, 15))
    record_dates = {r.record_date for r in rows}
    assert all(d.month in (3, 6, 9, 12) and d.day >= 30 for d in record_dates)
    amended = [r for r in rows if r.effective_date != r.record_date]
    assert amended
    assert all(r.record_date < r.effective_date <= date(2025, 7, 15) for r in amended)
    assert all(r.record_date >= date(2021, 4, 1) for r in amended)
    same_day = [r for r in reports(3, date(2024, 7, 15)) if r.record_date == date(2023, 12, 31)]
    assert same_day == [r for r in rows if r.record_date == date(2023, 12, 31)]


def test_query_syntax_fields_filter_sort_and_pages():
    with build(seed=3) as sim:
        sim.today = date(2025, 7, 15)
        params = {
            "fields": "record_date,country_currency_desc,exchange_rate,effective_date",
            "filter": (
                "country_currency_desc:in:(Euro Zone-Euro,Japan-Yen),record_date:gte:2024-01-01"
            ),
            "sort": "-record_date,country_currency_desc",
            "page[size]": "3",
            "page[number]": "2",
        }
        body = httpx.get(sim.url + PATH, params=params).json()
        assert body["meta"]["total-count"] == 12  # 6 reports x 2 currencies
        assert (body["meta"]["count"], body["meta"]["total-pages"]) == (3, 4)
        assert body["links"]["next"] == "&page%5Bnumber%5D=3&page%5Bsize%5D=3"
        assert list(body["data"][0]) == params["fields"].split(",")
        assert [r["record_date"] for r in body["data"]] == [
            "2025-03-31",
            "2024-12-31",
            "2024-12-31",
        ]
        assert all(isinstance(v, str) for r in body["data"] for v in r.values())
        bad = httpx.get(sim.url + PATH, params={"sort": "-iso"})
        assert (bad.status_code, bad.json()["error"]) == (400, "Invalid Query Param")
