"""Server-rendered SVG charts: line (with gap bands and steps), stacked area, bars.

Why SVG from the server rather than a JavaScript library: nothing to install or vendor
(no npm, no CDN, nothing for the Dockerfile or CI to fetch), the chart arrives inside the
htmx partial that carries it, it renders with scripts off and in tests, and its numbers
are the same Decimals the page shows. Hover titles come from SVG `<title>`s; colours are
attributes, so a chart renders right even without `static/css/charts.css` (which adds
hover shading and legend details).

Every function returns markup safe to put in a template: `{{ chart }}`. Coordinates are
computed in Decimal (house rule: no binary floats in app code) and written with one
decimal. Long series are thinned to about two points per pixel column, keeping each
column's first, lowest, highest and last point, so the shape survives.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1d4ed8", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
GAP_FILL = "#dc2626"
WIDTH = 800
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 72, 16, 12, 28
MAX_HOVER_TARGETS = 400
_ids = itertools.count(1)

Point = tuple[date, Decimal | None]
Formatter = Callable[[Decimal], str]


@dataclass(frozen=True)
class Series:
    """A named line or area: (date, value) points, None where there is no value."""

    label: str
    points: Sequence[Point]
    color: str = ""


@dataclass(frozen=True)
class Band:
    """A highlighted date range (both days included), such as a gap in a source."""

    start: date
    end: date
    label: str
    color: str = GAP_FILL


@dataclass(frozen=True)
class BarSeries:
    """One value per category (None: no value), drawn as bars."""

    label: str
    values: Sequence[Decimal | None]
    color: str = ""


def plain(value: Decimal) -> str:
    """Default value label: the number as written, grouped, no exponent."""
    text = f"{value.normalize():f}"
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}" if whole not in {"-0", ""} else whole
    if whole.startswith("-") and grouped[0] != "-":
        grouped = "-" + grouped
    return f"{grouped}.{fraction}" if fraction else grouped


def _f(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def _color(index: int, color: str) -> str:
    return color or PALETTE[index % len(PALETTE)]


# --- scales ------------------------------------------------------------------------------


def nice_step(span: Decimal, ticks: int = 4) -> Decimal:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks."""
    raw = span / ticks
    power = Decimal(1).scaleb(raw.adjusted())
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        if raw <= power * factor:
            return power * factor
    return power * 10


@dataclass(frozen=True)
class _YScale:
    low: Decimal
    high: Decimal
    step: Decimal
    top: int
    height: int

    @classmethod
    def fit(cls, values: Sequence[Decimal], *, top: int, height: int, zero: bool) -> _YScale:
        low, high = (min(values), max(values)) if values else (Decimal(0), Decimal(1))
        if zero:
            low, high = min(low, Decimal(0)), max(high, Decimal(0))
        if low == high:
            pad = abs(low) / 100 or Decimal(1)
            low, high = low - pad, high + pad
        step = nice_step(high - low)
        low = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
        high = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
        return cls(low, high, step, top, height)

    def __call__(self, value: Decimal) -> Decimal:
        return self.top + (self.high - value) * self.height / (self.high - self.low)

    def ticks(self) -> list[Decimal]:
        count = int((self.high - self.low) / self.step)
        return [self.low + self.step * n for n in range(count + 1)]


@dataclass(frozen=True)
class _XScale:
    first: date
    last: date
    left: int
    width: int

    def __call__(self, day: date) -> Decimal:
        span = max((self.last - self.first).days, 1)
        return self.left + Decimal((day - self.first).days) * self.width / span

    def ticks(self) -> list[tuple[date, str]]:
        days = (self.last - self.first).days
        if days <= 62:
            step = max(days // 6, 1)
            marks = [self.first + timedelta(days=n) for n in range(0, days + 1, step)]
            return [(d, f"{d:%d %b}") for d in marks]
        months = days // 30
        if months <= 30:
            every = max(months // 7, 1)
            starts = _month_starts(self.first, self.last, every)
            return [
                (d, f"{d:%b %Y}" if d.month == 1 or d == starts[0] else f"{d:%b}") for d in starts
            ]
        every = max(months // 12 // 8, 1)
        years = range(self.first.year + 1, self.last.year + 1, every)
        return [(date(y, 1, 1), str(y)) for y in years]


def _month_starts(first: date, last: date, every: int) -> list[date]:
    month = date(first.year, first.month, 1)
    marks = []
    while month <= last:
        if month >= first:
            marks.append(month)
        index = month.year * 12 + month.month - 1 + every
        month = date(index // 12, index % 12 + 1, 1)
    return marks


# --- shared drawing ------------------------------------------------------------------------


def _frame(
    *, title: str, summary: str, height: int, body: list[str], y: _YScale,
    x_ticks: list[tuple[Decimal, str]], value_format: Formatter,
) -> str:  # fmt: skip
    chart_id = f"chart-{next(_ids)}"
    right = WIDTH - MARGIN_RIGHT
    grid = []
    for tick in y.ticks():
        py = _f(y(tick))
        grid.append(
            f'<line x1="{MARGIN_LEFT}" x2="{right}" y1="{py}" y2="{py}" stroke="#e5e7eb"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{py}" dy="0.32em" text-anchor="end">'
            f"{escape(value_format(tick))}</text>"
        )
    baseline = height - MARGIN_BOTTOM
    for px, label in x_ticks:
        grid.append(
            f'<line x1="{_f(px)}" x2="{_f(px)}" y1="{baseline}" y2="{baseline + 4}" '
            f'stroke="#9ca3af"/><text x="{_f(px)}" y="{baseline + 16}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return (
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" font-size="11" fill="#6b7280" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>'
        f'<g class="chart__grid">{"".join(grid)}</g>{"".join(body)}</svg>'
    )


def _legend(labels: list[tuple[str, str]]) -> str:
    if len(labels) < 2:
        return ""
    items = "".join(
        f'<span><svg class="swatch" viewBox="0 0 1 1" aria-hidden="true">'
        f'<rect width="1" height="1" fill="{escape(color)}"/></svg>{escape(label)}</span>'
        for label, color in labels
    )
    return f'<div class="legend">{items}</div>'


def _figure(svg: str, legend: str, note: str = "") -> SafeString:
    caption = f'<figcaption class="chart__note">{escape(note)}</figcaption>' if note else ""
    return mark_safe(f'<figure class="chart-figure">{svg}{legend}{caption}</figure>')  # noqa: S308 - every text is escaped above


def _band(x: _XScale, start: date, end: date, label: str, color: str, plot_h: int) -> str:
    left = x(start)
    width = max(x(end + timedelta(days=1)) - left, Decimal(2))  # a one-day gap still shows
    return (
        f'<rect class="chart__band" x="{_f(left)}" y="{MARGIN_TOP}" width="{_f(width)}" '
        f'height="{plot_h}" fill="{color}" fill-opacity="0.12">'
        f"<title>{escape(label)}</title></rect>"
    )


def _dated_chart(
    series: Sequence[Series], *, title: str, summary: str, height: int, body: list[str],
    x: _XScale, y: _YScale, value_format: Formatter, note: str,
) -> SafeString:  # fmt: skip
    svg = _frame(
        title=title, summary=summary, height=height, body=body, y=y,
        x_ticks=[(x(d), label) for d, label in x.ticks()], value_format=value_format,
    )  # fmt: skip
    legend = [(s.label, _color(i, s.color)) for i, s in enumerate(series)]
    return _figure(svg, _legend(legend), note)


def _thin(points: Sequence[Point], columns: int) -> list[Point]:
    """At most about 4 points per column: first, lowest, highest, last (gaps kept)."""
    if len(points) <= columns * 2:
        return list(points)
    size = -(-len(points) // columns)
    kept: list[Point] = []
    for start in range(0, len(points), size):
        bucket = list(points[start : start + size])
        valued = [p for p in bucket if p[1] is not None]
        if len(valued) < len(bucket):  # a gap inside: keep the break
            kept.extend(bucket[:1] + [p for p in bucket if p[1] is None][:1] + bucket[-1:])
            continue
        chosen = {
            bucket[0],
            min(valued, key=lambda p: p[1]),
            max(valued, key=lambda p: p[1]),
            bucket[-1],
        }  # type: ignore[arg-type, return-value]
        kept.extend(sorted(chosen, key=lambda p: p[0]))
    return kept


def _segments(points: Sequence[Point]) -> list[list[tuple[date, Decimal]]]:
    runs: list[list[tuple[date, Decimal]]] = [[]]
    for day, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((day, value))
    return [run for run in runs if run]


def _hover(points: Sequence[tuple[date, str]], x: _XScale, *, top: int, height: int) -> str:
    """Invisible columns with a `<title>` each, so hovering anywhere shows the value."""
    if not points:
        return ""
    stride = -(-len(points) // MAX_HOVER_TARGETS)
    chosen = list(points[::stride])
    cells = []
    for index, (day, text) in enumerate(chosen):
        left = x(day) if index == 0 else (x(chosen[index - 1][0]) + x(day)) / 2
        right = x(day) if index == len(chosen) - 1 else (x(day) + x(chosen[index + 1][0])) / 2
        width = max(right - left, Decimal(1))
        cells.append(
            f'<rect x="{_f(left)}" y="{top}" width="{_f(width)}" height="{height}">'
            f"<title>{escape(text)}</title></rect>"
        )
    return f'<g class="chart__hit" fill="transparent">{"".join(cells)}</g>'


# --- line ----------------------------------------------------------------------------------


def line_chart(
    series: Sequence[Series], *, title: str, bands: Sequence[Band] = (), step: bool = False,
    height: int = 260, value_format: Formatter = plain, zero: bool = False, note: str = "",
) -> SafeString:  # fmt: skip
    """Lines over dates. None values break a line; `bands` shade date ranges (gaps);
    `step` holds each value until the next (rates that apply until replaced)."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    days = [d for s in series for d, _ in s.points] + [d for b in bands for d in (b.start, b.end)]
    values = [v for s in series for _, v in s.points if v is not None]
    if not days:
        return _figure("", "", note or f"{title}: no data")
    x = _XScale(min(days), max(days), MARGIN_LEFT, plot_w)
    y = _YScale.fit(values, top=MARGIN_TOP, height=plot_h, zero=zero)
    body = [_band(x, b.start, b.end, b.label, b.color, plot_h) for b in bands]
    hover: dict[date, list[str]] = {}
    for index, line in enumerate(series):
        color = _color(index, line.color)
        for run in _segments(_thin(line.points, plot_w)):
            coords = []
            for n, (day, value) in enumerate(run):
                if step and n:
                    coords.append(f"{_f(x(day))},{_f(y(run[n - 1][1]))}")
                coords.append(f"{_f(x(day))},{_f(y(value))}")
            if len(run) == 1:  # a lone point between gaps: a dot, or it would not show
                day, value = run[0]
                body.append(
                    f'<circle cx="{_f(x(day))}" cy="{_f(y(value))}" r="2.5" fill="{color}"/>'
                )
            else:
                body.append(
                    f'<polyline class="chart__line" points="{" ".join(coords)}" fill="none" '
                    f'stroke="{color}" stroke-width="1.8" stroke-linejoin="round"/>'
                )
        for day, value in line.points:
            text = "no value" if value is None else value_format(value)
            prefix = f"{line.label}: " if len(series) > 1 else ""
            hover.setdefault(day, []).append(prefix + text)
    hover_points = [(d, f"{d:%Y-%m-%d} · " + "; ".join(t)) for d, t in sorted(hover.items())]
    body.append(_hover(hover_points, x, top=MARGIN_TOP, height=plot_h))
    summary = (
        f"{len(series)} series from {x.first:%Y-%m-%d} to {x.last:%Y-%m-%d}"
        + (
            f", between {value_format(min(values))} and {value_format(max(values))}"
            if values
            else ""
        )
        + (f"; {len(bands)} shaded ranges" if bands else "")
    )
    return _dated_chart(
        series, title=title, summary=summary, height=height, body=body, x=x, y=y,
        value_format=value_format, note=note,
    )  # fmt: skip


# --- stacked area --------------------------------------------------------------------------


def stacked_area_chart(
    series: Sequence[Series], *, title: str, height: int = 260,
    value_format: Formatter = plain, note: str = "",
) -> SafeString:  # fmt: skip
    """Areas stacked in order over shared dates (values ≥ 0, such as balances in one
    currency). A date where any series has no value is left open and shaded."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    days = sorted({d for s in series for d, _ in s.points})
    if not days:
        return _figure("", "", note or f"{title}: no data")
    tables = [dict(s.points) for s in series]
    complete = [d for d in days if all(t.get(d) is not None for t in tables)]
    totals = {d: sum((t[d] for t in tables), Decimal(0)) for d in complete}  # type: ignore[misc]
    x = _XScale(days[0], days[-1], MARGIN_LEFT, plot_w)
    y = _YScale.fit([*totals.values()], top=MARGIN_TOP, height=plot_h, zero=True)
    body = []
    missing = [(d, None) for d in days if d not in totals]
    for start, end in _runs([d for d, _ in missing], days):
        label = f"No value {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        body.append(_band(x, start, end, label, GAP_FILL, plot_h))
    lower = {d: Decimal(0) for d in complete}
    for index, area in enumerate(series):
        color = _color(index, area.color)
        upper = {d: lower[d] + tables[index][d] for d in complete}  # type: ignore[operator]
        for run in _segments([(d, upper.get(d)) for d in days]):
            top = [f"{_f(x(d))},{_f(y(v))}" for d, v in run]
            bottom = [f"{_f(x(d))},{_f(y(lower[d]))}" for d, _ in reversed(run)]
            body.append(
                f'<polygon class="chart__area" points="{" ".join(top + bottom)}" '
                f'fill="{color}" fill-opacity="0.55" stroke="{color}" stroke-width="1"/>'
            )
        lower = upper
    hover_points = [
        (d, f"{d:%Y-%m-%d} · total {value_format(totals[d])} · " + "; ".join(
            f"{s.label} {value_format(t[d])}" for s, t in zip(series, tables, strict=True)  # type: ignore[arg-type]
        ))
        for d in complete
    ]  # fmt: skip
    body.append(_hover(hover_points, x, top=MARGIN_TOP, height=plot_h))
    summary = f"{len(series)} stacked series from {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}"
    return _dated_chart(
        series, title=title, summary=summary, height=height, body=body, x=x, y=y,
        value_format=value_format, note=note,
    )  # fmt: skip


def _runs(missing: list[date], days: list[date]) -> list[tuple[date, date]]:
    """Consecutive runs (in `days` order) of the missing days."""
    absent, runs, current = set(missing), [], []
    for day in days:
        if day in absent:
            current.append(day)
        elif current:
            runs.append((current[0], current[-1]))
            current = []
    if current:
        runs.append((current[0], current[-1]))
    return runs


# --- bars ----------------------------------------------------------------------------------


def bar_chart(
    categories: Sequence[str], series: Sequence[BarSeries], *, title: str,
    stacked: bool = False, height: int = 240, value_format: Formatter = plain, note: str = "",
) -> SafeString:  # fmt: skip
    """Bars per category, grouped side by side or stacked; negative values hang below
    zero (cash out), so in/out per month reads at a glance."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    if not categories:
        return _figure("", "", note or f"{title}: no data")
    values = [v for s in series for v in s.values if v is not None]
    if stacked:
        sums = []
        for n in range(len(categories)):
            column = [s.values[n] for s in series if s.values[n] is not None]
            sums += [
                sum((v for v in column if v > 0), Decimal(0)),
                sum((v for v in column if v < 0), Decimal(0)),
            ]  # type: ignore[operator, misc]
        values = sums
    y = _YScale.fit(values, top=MARGIN_TOP, height=plot_h, zero=True)
    slot = Decimal(plot_w) / len(categories)
    inner = slot * Decimal("0.7")
    width = inner if stacked else inner / max(len(series), 1)
    body, ticks = [], []
    every = max(len(categories) // 12, 1)
    for n, category in enumerate(categories):
        left = MARGIN_LEFT + slot * n + (slot - inner) / 2
        up, down = Decimal(0), Decimal(0)
        for index, bars in enumerate(series):
            value = bars.values[n]
            if value is None:
                continue
            if stacked:
                start = up if value >= 0 else down
                end = start + value
                up, down = (end, down) if value >= 0 else (up, end)
                bx = left
            else:
                start, end, bx = Decimal(0), value, left + width * index
            top, bottom = y(max(start, end)), y(min(start, end))
            body.append(
                f'<rect class="chart__bar" x="{_f(bx)}" y="{_f(top)}" width="{_f(width)}" '
                f'height="{_f(max(bottom - top, Decimal("0.5")))}" '
                f'fill="{_color(index, bars.color)}"><title>{escape(category)} · '
                f"{escape(bars.label)}: {escape(value_format(value))}</title></rect>"
            )
        if n % every == 0:
            ticks.append((left + inner / 2, category))
    zero = _f(y(Decimal(0)))
    body.append(
        f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{zero}" y2="{zero}" '
        f'stroke="#6b7280"/>'
    )
    summary = f"{len(series)} series over {len(categories)} categories"
    svg = _frame(
        title=title, summary=summary, height=height, body=body, y=y, x_ticks=ticks,
        value_format=value_format,
    )  # fmt: skip
    legend = [(s.label, _color(i, s.color)) for i, s in enumerate(series)]
    return _figure(svg, _legend(legend), note)
