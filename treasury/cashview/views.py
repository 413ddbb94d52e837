"""The dashboard (the site's home page) and the accountant's exports.

One template (`cashview/dashboard.html`); htmx requests get the region they target:
`#dashboard` when a choice changes (its URL pushed, so the view stays shareable) and
`#status` while a job runs (polled; once nothing runs the page reloads for the new
figures). Without cash accounts the home page is the guided first run instead. Nothing
here writes: the accountant sees the same page, minus links to pages that do.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRefresh, push_url

from treasury.cashview import exports
from treasury.cashview.forms import FORMATS, RANGE_LABELS, PeriodForm, choices_parse
from treasury.cashview.selectors import SOURCES, CashView, Choices, cash_view, first_run_state
from treasury.cashview.status import LEVEL_ORDER, status_items, url_or_none
from treasury.charts import BarSeries, Series, bar_chart, stacked_area_chart
from treasury.fx.models import Source
from treasury.fx.policy import RateDatePolicy
from treasury.params import param_choice, param_flag, param_text

TEMPLATE = "cashview/dashboard.html"
FIRST_RUN = "cashview/first_run.html"
IN_COLOR, OUT_COLOR, FLOW_COLOR, FX_COLOR = "#059669", "#dc2626", "#1d4ed8", "#d97706"


def _compact(value: Decimal) -> str:
    """Chart labels: whole units from a thousand up, cents below."""
    if abs(value) >= 1000:
        return f"{value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN):,}"
    return f"{value:,.2f}"


def _status_context(today: date) -> dict[str, Any]:
    items = status_items(today)
    attention = sum(1 for item in items if item.level in ("error", "warn"))
    return {
        "status_items": sorted(items, key=lambda item: LEVEL_ORDER.get(item.level, 9)),
        "status_attention": attention,
        "status_polling": any(item.progress is not None for item in items),
    }


def _bars(
    months: list[str], series: list[tuple[str, list[Decimal | None], str]], *, title: str
) -> SafeString:
    """Monthly bars, stacked, positive up and negative down."""
    bars = [BarSeries(label, values, color) for label, values, color in series]
    return bar_chart(months, bars, title=title, stacked=True, value_format=_compact)


def _charts(view: CashView) -> dict[str, Any]:
    history, base = view.history, view.choices.base
    choices = view.choices
    valued = {
        RateDatePolicy.TRANSACTION_DATE: "at that day's rate",
        RateDatePolicy.PERIOD_END: f"at the rate of {choices.as_of:%Y-%m-%d} (period end)",
        RateDatePolicy.TODAY: f"at today's rate ({choices.today:%Y-%m-%d})",
    }[choices.policy]
    stack = stacked_area_chart(
        [Series(code, points, color) for code, color, points in history.stack],
        title=f"Total cash in {base}, by currency",
        value_format=_compact,
        note=f"Each day's balances, {valued}. Shaded days lack a rate for a currency held then.",
    )
    fx = history.fx
    in_out = _bars(
        history.months,
        [("Cash in", history.inflow, IN_COLOR), ("Cash out", history.outflow, OUT_COLOR)],
        title=f"Cash in and out per month, in {base}",
    )
    fx_chart = _bars(
        fx.months,
        [("Net flows", fx.month_flows, FLOW_COLOR), ("FX effect", fx.month_revaluation, FX_COLOR)],
        title=f"Change in the total per month, in {base}: flows and FX effect",
    )
    return {"stack_chart": stack, "in_out_chart": in_out, "fx_chart": fx_chart}


def _previous_month(day: date) -> tuple[date, date]:
    end = day.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def _dashboard_context(view: CashView, errors: list[str]) -> dict[str, Any]:
    choices = view.choices
    base = choices.base
    home = reverse("home")
    start, end = _previous_month(choices.as_of)
    return {
        "view": view,
        "choices": choices,
        "errors": errors,
        "base": base,
        "canonical_url": f"{home}?{choices.query()}",
        "base_options": sorted({*view.currencies, "USD", settings.BASE_CURRENCY, choices.base}),
        "policy_options": RateDatePolicy.choices,
        "range_options": list(RANGE_LABELS.items()),
        "source_options": [(s, Source(s).label) for s in SOURCES],
        "range_links": [
            (key, label, f"{home}?{choices.query(range=key)}", key == choices.range)
            for key, label in RANGE_LABELS.items()
        ],
        "today_url": f"{home}?{choices.query(as_of=choices.today.isoformat())}",
        "rates_url": url_or_none("fx:rates"),
        "no_rates": not view.rates_found and any(code != base for code in view.currencies),
        "export_balances": {
            fmt: f"{reverse('cashview:export_balances')}?{choices.query(format=fmt)}"
            for fmt in FORMATS
        },
        "export_period": (start, end),
        **_charts(view),
    }


def _first_run_context() -> dict[str, Any]:
    return {
        "state": first_run_state(),
        "wise_connect_url": url_or_none("accounts:wise_connect"),
        "import_url": url_or_none("statements:upload"),
        "xero_url": url_or_none("ledger:xero"),
        "rates_url": url_or_none("fx:rates"),
    }


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    target = request.htmx.target if request.htmx else None
    if target == "status":
        context = _status_context(today)
        if param_flag(request.GET, "polling") and not context["status_polling"]:
            return HttpResponseClientRefresh()  # a job just ended: show its figures
        return render(request, f"{TEMPLATE}#status", context)
    choices, errors = choices_parse(request.GET, today=today)
    view = cash_view(choices=choices)
    if view is None:
        if target:
            return HttpResponseClientRefresh()
        return render(request, FIRST_RUN, {**_first_run_context(), **_status_context(today)})
    context = {**_dashboard_context(view, errors), **_status_context(today)}
    if target == "dashboard":
        response = render(request, f"{TEMPLATE}#dashboard", context)
        return push_url(response, context["canonical_url"])
    return render(request, TEMPLATE, context)


def _export_choices(request: HttpRequest) -> tuple[Choices, list[str]]:
    return choices_parse(request.GET, today=timezone.localdate())


def _refused(errors: list[str]) -> HttpResponse:
    """A wrong parameter named in plain text; no file is sent."""
    message = " ".join(errors) or "format: expected csv or xlsx."
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _format(request: HttpRequest) -> str | None:
    """`csv` (the default) or `xlsx`; None for anything else."""
    if not param_text(request.GET, "format"):
        return "csv"
    return param_choice(request.GET, "format", FORMATS, lenient=True, fold_case=True)


@require_GET
def export_balances(request: HttpRequest) -> HttpResponse:
    """Every cash account's balance on the as-of date, native and converted (CSV, XLSX)."""
    choices, errors = _export_choices(request)
    fmt = _format(request)
    if errors or fmt is None:
        return _refused(errors)
    return exports.balances_response(choices=choices, fmt=fmt)


@require_GET
def export_transactions(request: HttpRequest) -> HttpResponse:
    """Every line booked in a period (both days included), with the rate used per line."""
    choices, errors = _export_choices(request)
    fmt = _format(request)
    start, end = _previous_month(choices.as_of)
    period = PeriodForm(
        {
            "start": param_text(request.GET, "start") or start.isoformat(),
            "end": param_text(request.GET, "end") or end.isoformat(),
        }
    )
    if not period.is_valid():
        errors += [" ".join(messages) for messages in period.errors.values()]
    if errors or fmt is None:
        return _refused(errors)
    return exports.transactions_response(
        choices=choices, start=period.cleaned_data["start"], end=period.cleaned_data["end"], fmt=fmt
    )
