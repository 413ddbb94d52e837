"""The SVG chart module: valid markup, Decimal scales, gaps, thinning, escaping."""

import re
from datetime import date, timedelta
from decimal import Decimal

from defusedxml import ElementTree

from treasury.charts import (
    Band,
    BarSeries,
    Series,
    bar_chart,
    line_chart,
    nice_step,
    stacked_area_chart,
)

D = Decimal
SVG = "{http://www.w3.org/2000/svg}"


def svg_of(markup: str):
    match = re.search(r"<svg.*?</svg>", str(markup), re.S)  # the chart; legend swatches follow
    assert match, markup
    return ElementTree.fromstring(match.group(0))


def days(n: int, start: date = date(2025, 1, 1)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def test_nice_steps():
    assert nice_step(D("7")) == D("2")
    assert nice_step(D("0.0033")) == D("0.001")
    assert nice_step(D("380")) == D("100")
    assert nice_step(D("9")) == D("2.5")


def test_line_breaks_at_missing_values_and_shades_bands():
    points = [(d, D("1.1") + D(i) / 100) for i, d in enumerate(days(10))]
    points[4] = (points[4][0], None)
    chart = line_chart(
        [Series("USD per EUR", points)], title="EUR in USD",
        bands=[Band(points[4][0], points[4][0], "No rate <2025-01-05>")],
    )  # fmt: skip
    root = svg_of(chart)
    assert len(root.findall(f".//{SVG}polyline")) == 2  # broken at the gap
    band = root.find(f".//{SVG}rect[@class='chart__band']")
    assert band.find(f"{SVG}title").text == "No rate <2025-01-05>"  # escaped, parsed back
    assert root.find(f"{SVG}title").text == "EUR in USD"
    tooltips = [
        t.text for t in root.findall(f".//{SVG}g[@class='chart__hit']/{SVG}rect/{SVG}title")
    ]
    assert "2025-01-05 · no value" in tooltips
    assert "2025-01-01 · 1.1" in tooltips


def test_long_series_are_thinned_but_keep_their_extremes():
    values = [D(100 + (i % 50)) for i in range(9000)]
    values[4321] = D(999)
    chart = line_chart([Series("x", list(zip(days(9000), values, strict=True)))], title="long")
    root = svg_of(chart)
    line = root.find(f".//{SVG}polyline")
    assert len(line.get("points").split()) < 3000
    labels = [t.text for t in root.findall(f".//{SVG}g[@class='chart__grid']/{SVG}text")]
    assert "1,000" in labels  # the spike still sets the scale
    assert len(root.findall(f".//{SVG}g[@class='chart__hit']/{SVG}rect")) <= 400


def test_step_lines_hold_each_value():
    points = [(date(2025, 3, 31), D("1.0")), (date(2025, 6, 30), D("2.0"))]
    root = svg_of(line_chart([Series("r", points)], title="steps", step=True))
    coords = root.find(f".//{SVG}polyline").get("points").split()
    assert len(coords) == 3
    assert coords[1].split(",")[1] == coords[0].split(",")[1]  # flat until the next value


def test_stacked_area_sums_series_and_leaves_incomplete_dates_open():
    ds = days(5)
    eur = Series("EUR", [(d, D(100)) for d in ds])
    jpy = Series("JPY", [(d, D(50) if i != 2 else None) for i, d in enumerate(ds)])
    chart = stacked_area_chart([eur, jpy], title="Cash")
    root = svg_of(chart)
    assert len(root.findall(f".//{SVG}polygon")) == 4  # two series, each split by the gap
    assert "total 150" in chart
    assert root.find(f".//{SVG}rect[@class='chart__band']") is not None
    assert 'class="legend"' in chart


def test_bars_grouped_and_negative():
    chart = bar_chart(
        ["Jan", "Feb"], [BarSeries("In", [D(10), D(5)]), BarSeries("Out", [D(-4), D(-8)])],
        title="Cash flow",
    )  # fmt: skip
    root = svg_of(chart)
    bars = root.findall(f".//{SVG}rect[@class='chart__bar']")
    assert len(bars) == 4
    assert [b.find(f"{SVG}title").text for b in bars][1] == "Jan · Out: -4"
    zero = root.findall(f".//{SVG}line")[-1]
    out_jan = bars[1]
    assert D(out_jan.get("y")) == D(zero.get("y1"))  # hangs below the zero line


def test_empty_input_renders_a_note_not_an_error():
    assert "no data" in line_chart([], title="Nothing")
    assert "no data" in bar_chart([], [], title="Nothing")
