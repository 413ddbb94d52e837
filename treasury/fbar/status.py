"""The FBAR monitor on the dashboard's status panel.

`fbar_status_items(today)` reads the monitor's stored results (one query, whatever the
number of accounts or lines): the dashboard never recomputes a year. The items are the
dashboard's `StatusItem` when that module is installed, else an identical local class.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import reverse

from treasury.cashview.status import StatusItem
from treasury.fbar import thresholds
from treasury.fbar.models import MonitorState
from treasury.fbar.selectors import date_text, dollars, filing_state, monitor_states

# The monitor runs daily and after syncs; older than this, something has stopped it.
STALE_AFTER_DAYS = 2


def _current(state: MonitorState | None, year: int, today: date) -> StatusItem:
    url = reverse("fbar:report-year", args=[year])
    label = f"FBAR {year}"
    if state is None:
        return StatusItem(
            key="fbar.current", label=label, value="not computed yet", level="info", url=url,
            detail="The monitor runs daily; the FBAR page computes it now.",
        )  # fmt: skip
    if not state.is_us_person:
        return StatusItem(
            key="fbar.current", label=label, value="not a U.S. person", level="info", url=url,
            detail="FBAR and Form 8938 do not apply (FBAR settings).",
        )  # fmt: skip
    value = f"{dollars(state.aggregate_usd)} of {dollars(thresholds.FBAR_THRESHOLD_USD)}"
    if state.is_estimate:
        value += " (estimate)"
    if state.crossed_on:
        level = "error"
        detail = f"Over the line since {state.crossed_on:%Y-%m-%d}: FinCEN 114 is required."
    elif state.warned_on:
        level = "warn"
        headroom = dollars(thresholds.headroom_usd(state.aggregate_usd))
        detail = f"Reached 80% on {state.warned_on:%Y-%m-%d}; headroom {headroom}."
    else:
        level = "ok"
        detail = f"Headroom {dollars(thresholds.headroom_usd(state.aggregate_usd))}."
    if not state.is_complete:
        level = "error" if level == "error" else "warn"
        detail += f" No rate for {state.missing_rates}: those accounts are not counted."
    if state.computed_at.date() < today - timedelta(days=STALE_AFTER_DAYS):
        level = "error" if level == "error" else "warn"
        detail += f" Last computed {state.computed_at:%Y-%m-%d}: is the worker running?"
    return StatusItem(
        key="fbar.current", label=label, value=value, level=level, url=url, detail=detail
    )


def _previous(state: MonitorState, today: date) -> StatusItem | None:
    """Last year's filing, when one is required: due, in its extension, overdue (until
    it is recorded as filed), or filed (until the extended due date)."""
    if not state.is_us_person:
        return None
    form_8938 = state.form_8938_status in ("required", "undetermined")
    if not (state.filing_required or form_8938):
        return None
    filed_on = getattr(state, "filed_on", None)
    due, extended = thresholds.fbar_due(state.year)
    url = reverse("fbar:report-year", args=[state.year])
    label = f"FBAR {state.year}"
    filing = filing_state(
        year=state.year, required=state.filing_required, filed_on=filed_on, today=today
    )
    if filing.state == "filed" and today > extended and not form_8938:
        return None  # done, and past the season: nothing left to say
    parts = []
    if state.filing_required:
        said = f"{filing.label[0].lower()}{filing.label[1:]}"
        parts.append(
            f"FinCEN 114 {said if filing.state in ('filed', 'overdue') else 'required, ' + said}"
        )
    if form_8938:
        parts.append(f"Form 8938 {state.form_8938_status}")
    level = filing.level if state.filing_required else "warn"
    detail = f"Aggregate {dollars(state.aggregate_usd)}. "
    if state.filing_required:
        detail += filing.detail
    if form_8938:
        detail += " Form 8938 goes with the tax return."
    if filing.state == "filed" and not form_8938:
        level = "ok"
    return StatusItem(
        key="fbar.previous", label=label, value="; ".join(parts), level=level, url=url,
        detail=detail.strip() or f"Due {date_text(due)}.",
    )  # fmt: skip


def fbar_status_items(today: date) -> list[StatusItem]:
    """This year's running aggregate, and last year's filing while it is due, overdue or
    freshly filed (one query)."""
    years = [today.year, today.year - 1]
    states = monitor_states(years=years, with_filing=True)
    items = [_current(states.get(today.year), today.year, today)]
    state = states.get(today.year - 1)
    item = _previous(state, today) if state is not None else None
    if item is not None:
        items.append(item)
    return items
