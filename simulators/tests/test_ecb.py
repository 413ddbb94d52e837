"""The ECB simulator: deterministic TARGET-day data, its files and its control endpoint."""

from datetime import date

import httpx

from simulators.ecb.data import CODES, history
from simulators.ecb.server import build
from treasury.fx.calendar import is_target_day


def test_rates_depend_on_the_seed_and_the_day_only():
    early, late = history(3, date(2024, 6, 28)), history(3, date(2025, 6, 30))
    assert late[: len(early)] == early
    assert history(4, date(2024, 6, 28)) != early
    assert all(is_target_day(day) for day, _ in late)
    rates = late[-1][1]
    assert [code for code, _ in rates] == [c for c in CODES if c in dict(rates)]  # ECB order
    assert dict(rates)["BGN"] == dict(early[-1][1])["BGN"]  # the lev is pegged


def test_files_and_calendar_control(contract_violations):
    with build(seed=3) as sim:
        httpx.post(
            f"{sim.url}/_sim/today", json={"today": "2024-12-27", "history_start": "2024-12-01"}
        )
        daily = httpx.get(f"{sim.url}/stats/eurofxref/eurofxref-daily.xml")
        assert daily.headers["content-type"].startswith("text/xml")
        assert "<Cube time='2024-12-27'>" in daily.text  # 25-26 December are holidays
        zipped = httpx.get(f"{sim.url}/stats/eurofxref/eurofxref-hist.zip")
        assert zipped.headers["content-type"] == "application/zip"
        state = httpx.get(f"{sim.url}/_sim/state").json()
        assert (state["latest"], state["days"]) == ("2024-12-27", 18)
        with contract_violations() as seen:  # no such file: not an ECB operation either
            assert httpx.get(f"{sim.url}/stats/eurofxref/other.xml").status_code == 404
        assert "no operation of ecb" in seen.violations[0].message
