"""The rates page: latest rates per source, a pair's history, fetches, owner overrides.

One template (`fx/rates.html`); htmx requests get the region they target
(`#history`, `#fetches`, `#overrides`). Writes are owner-only through the central
read-only middleware; the template hides their controls from the accountant.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from treasury.charts import Band, Series, line_chart
from treasury.fx import selectors
from treasury.fx.convert import rate_display
from treasury.fx.forms import PERIODS, FetchForm, HistoryForm, OverrideForm, OverrideRemoveForm
from treasury.fx.models import Source
from treasury.fx.policy import RateDatePolicy, policy_note
from treasury.fx.services import OverrideError, override_remove, override_set, rates_fetch_enqueue
from treasury.money import UnknownCurrencyError, currency_validate
from treasury.params import param_flag, param_text

TEMPLATE = "fx/rates.html"
EARLIEST = date(1999, 1, 4)


def _base(request: HttpRequest) -> tuple[str, str]:
    """The base currency from `?base=` (default settings.BASE_CURRENCY), and an error."""
    asked = param_text(request.GET, "base", max_length=3)
    if not asked:
        return settings.BASE_CURRENCY, ""
    try:
        return currency_validate(asked), ""
    except UnknownCurrencyError as exc:
        return settings.BASE_CURRENCY, str(exc)


def _history_context(request: HttpRequest, base: str, dates: dict[str, date]) -> dict[str, Any]:
    default_quote = "EUR" if base != "EUR" else "USD"
    source = next((s for s in (Source.ECB, Source.TREASURY, Source.WISE) if s in dates), Source.ECB)
    initial = {"source": source, "quote": default_quote, "period": "1y"}
    form = HistoryForm({**initial, **request.GET.dict()})
    choice = form.cleaned_data if form.is_valid() else initial
    source, quote, period = choice["source"], choice["quote"], choice["period"]
    context: dict[str, Any] = {"history_form": form, "base": base}
    end = dates.get(source)
    if end is None or quote == base:
        return {**context, "history": None, "history_source": source, "history_quote": quote}
    start = max(end - PERIODS[period], EARLIEST) if period in PERIODS else EARLIEST
    history = selectors.pair_history(source=source, base=base, quote=quote, start=start, end=end)
    bands = [
        Band(first, last, f"No {source} rate: {first:%Y-%m-%d} to {last:%Y-%m-%d}")
        for first, last in history.gaps
    ]
    chart = line_chart(
        [Series(f"{quote} per {base}", history.points)],
        title=f"{Source(source).label}: 1 {base} in {quote}",
        bands=bands,
        step=source == Source.TREASURY,
        value_format=rate_display,
    )
    values = history.values
    return {
        **context,
        "history": history,
        "history_source": source,
        "history_quote": quote,
        "chart": chart,
        "low": min(values) if values else None,
        "high": max(values) if values else None,
        "gaps_shown": history.gaps[-8:][::-1],
    }


def _fetches_context(statuses: list[selectors.SourceStatus]) -> dict[str, Any]:
    return {"statuses": statuses, "fetching": any(status.running for status in statuses)}


def _page_context(request: HttpRequest) -> dict[str, Any]:
    base, base_error = _base(request)
    dates = selectors.latest_dates()
    show_all = param_flag(request.GET, "all")
    only = None if show_all else selectors.currencies_held() | set(selectors.MAJOR_CURRENCIES)
    return {
        "base": base,
        "base_error": base_error,
        "show_all": show_all,
        "overview": selectors.rates_overview(base=base, dates=dates, only=only),
        **_fetches_context(selectors.fetch_status(dates=dates)),
        "overrides": selectors.overrides(),
        "override_log": selectors.override_log(),
        "override_form": OverrideForm(initial={"base": base}),
        "fx_note": policy_note(RateDatePolicy.TODAY, source=Source.ECB),
        **_history_context(request, base, dates),
    }


@require_GET
def rates(request: HttpRequest) -> HttpResponse:
    target = request.htmx.target if request.htmx else None
    if target == "history":
        base, _ = _base(request)
        context = _history_context(request, base, selectors.latest_dates())
        return render(request, f"{TEMPLATE}#history", context)
    if target == "fetches":
        context = _fetches_context(selectors.fetch_status())
        if param_flag(request.GET, "polling") and not context["fetching"]:
            return HttpResponseClientRefresh()  # a fetch just ended: show its rates
        return render(request, f"{TEMPLATE}#fetches", context)
    return render(request, TEMPLATE, _page_context(request))


@require_POST
def fetch(request: HttpRequest) -> HttpResponse:
    form = FetchForm(request.POST)
    if form.is_valid():
        run = rates_fetch_enqueue(source=form.cleaned_data["source"])
        if not request.htmx:
            messages.success(request, f"{run.label} fetch queued; this page shows its progress.")
    elif not request.htmx:
        messages.error(request, "Choose a source to fetch.")
    if request.htmx:
        context = _fetches_context(selectors.fetch_status())
        return render(
            request, f"{TEMPLATE}#fetches", context, status=200 if form.is_valid() else 400
        )
    return redirect("fx:rates")


def _overrides_response(
    request: HttpRequest, form: OverrideForm, status: int = 200
) -> HttpResponse:
    if not request.htmx:
        if status == 200:
            return redirect("fx:rates")
        context = {**_page_context(request), "override_form": form}
        return render(request, TEMPLATE, context, status=status)
    context = {
        "override_form": form,
        "overrides": selectors.overrides(),
        "override_log": selectors.override_log(),
    }
    return render(request, f"{TEMPLATE}#overrides", context, status=status)


@require_POST
def override(request: HttpRequest) -> HttpResponse:
    form = OverrideForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = override_set(
                user=request.user, base=data["base"], quote=data["quote"], on=data["date"],
                rate=data["rate"], reason=data["reason"],
            )  # fmt: skip
        except OverrideError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Override saved: 1 {saved.base} = {rate_display(saved.rate)} {saved.quote} "
                f"from {saved.date:%Y-%m-%d}.",
            )
            return _overrides_response(request, OverrideForm(initial={"base": saved.base}))
    return _overrides_response(request, form, status=400)


@require_POST
def override_delete(request: HttpRequest, pk: int) -> HttpResponse:
    form = OverrideRemoveForm(request.POST)
    if form.is_valid():
        try:
            override_remove(user=request.user, rate_id=pk, reason=form.cleaned_data["reason"])
        except OverrideError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Override removed; the log keeps what it was.")
    else:
        messages.error(request, "Say why you remove the override: the reason is kept in the log.")
    if request.htmx:
        return _overrides_response(request, OverrideForm())
    return redirect("fx:rates")
