"""Pages of the rules: the ordered list, the editor with its live preview, the
uncategorized queue, a line's booking and history, runs and the audit trail.

Writes are the owner's: `treasury.access.ReadOnlyRoleMiddleware` refuses every unsafe
method of anyone else, so these views do not check roles themselves.
"""

import dataclasses
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models.deletion import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from accounts.models import SyncRun, Transaction
from ledger.chart import chart_current
from ledger.rules import selectors, services
from ledger.rules.engine import WISE_TYPES, preview, spec_from_models, specs_saved
from ledger.rules.forms import (
    CategorizationForm,
    RuleForm,
    action_formset,
    condition_formset,
    condition_initial_from_line,
    kept,
)
from ledger.rules.models import BOOKING_FIELDS, Rule, RuleRun
from treasury.params import param_int

PAGE_SIZE = 50
PREVIEW_LINES = 50


def _rule_context(rule: Rule, form: Any, conditions: Any, actions: Any) -> dict[str, Any]:
    return {
        "rule": rule,
        "form": form,
        "conditions": conditions,
        "actions": actions,
        "wise_types": WISE_TYPES,
    }


def _rule_rows() -> list[tuple[Rule, list[str], list[str]]]:
    return [
        (
            rule,
            [services.condition_describe(c) for c in rule.conditions.all()],
            [services.action_describe(a) for a in rule.actions.all()],
        )
        for rule in selectors.rules_for_list()
    ]


@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    context = {
        "rows": _rule_rows(),
        "run": selectors.rule_run_latest(),
        "uncategorized": selectors.lines_uncategorized().count(),
        "off_chart": selectors.bookings_off_chart(chart_current()),
    }
    if request.htmx and request.htmx.target == "rule-table":
        return render(request, "rules/list.html#rule-table", context)
    return render(request, "rules/list.html", context)


def _forms_bound(request: HttpRequest, rule: Rule) -> tuple[Any, Any, Any]:
    data = request.POST if request.method == "POST" else request.GET
    return (
        RuleForm(data, instance=rule),
        condition_formset(data=data, instance=rule),
        action_formset(data=data, instance=rule, chart=chart_current()),
    )


def _save(request: HttpRequest, rule: Rule) -> HttpResponse:
    form, conditions, actions = _forms_bound(request, rule)
    if not (form.is_valid() and conditions.is_valid() and actions.is_valid()):
        return render(request, "rules/edit.html", _rule_context(rule, form, conditions, actions))
    apply = request.POST.get("apply") == "1"
    saved, run = services.rule_save(
        rule=form.instance,
        conditions=[f.instance for f in conditions.forms if kept(f)],
        actions=[f.instance for f in actions.forms if kept(f)],
        user=request.user,
        apply=apply,
    )
    note = " It is being applied to the existing lines it matches." if run else ""
    messages.success(request, f"Saved rule “{saved.name}”.{note}")
    return redirect("rules:list")


@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest) -> HttpResponse:
    rule = Rule()
    if request.method == "POST":
        return _save(request, rule)
    initial = None
    line = None
    line_id = param_int(request.GET, "from_line", lenient=True)
    if line_id is not None:
        line = selectors.line_with_booking(line_id=line_id)
    if line is not None:
        initial = condition_initial_from_line(line)
        rule.name = (line.counterparty or line.description)[:80]
    context = _rule_context(
        rule,
        RuleForm(instance=rule),
        condition_formset(instance=rule, initial=initial),
        action_formset(instance=rule, chart=chart_current()),
    )
    context["from_line"] = line
    return render(request, "rules/edit.html", context)


@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(Rule, pk=pk)
    if request.method == "POST":
        return _save(request, rule)
    return render(
        request,
        "rules/edit.html",
        _rule_context(
            rule,
            RuleForm(instance=rule),
            condition_formset(instance=rule),
            action_formset(instance=rule, chart=chart_current()),
        ),
    )


@require_GET
def rule_preview(request: HttpRequest) -> HttpResponse:
    """The editor's live preview: a dry run of the engine with the rule as typed."""
    rule_id = param_int(request.GET, "rule_id", lenient=True)
    rule = Rule.objects.filter(pk=rule_id).first() if rule_id is not None else None
    rule = rule or Rule(position=services.rule_next_position())
    form, conditions, actions = _forms_bound(request, rule)
    context: dict[str, Any] = {
        "preview_mode": True,
        "valid": False,
        "form": form,
        "conditions": conditions,
        "actions": actions,
    }
    if form.is_valid() and conditions.is_valid() and actions.is_valid():
        focus = spec_from_models(
            form.instance,
            [f.instance for f in conditions.forms if kept(f)],
            [f.instance for f in actions.forms if kept(f)],
        )
        result = preview(specs=specs_saved(), focus=focus, at=timezone.now().isoformat())
        shown = result.changed[:PREVIEW_LINES]
        accounts = {
            t.pk: t
            for t in Transaction.objects.select_related("account").filter(
                pk__in=[o.line_id for o in shown]
            )
        }
        context.update(
            valid=True,
            result=result,
            rows=[(accounts[o.line_id], o) for o in shown if o.line_id in accounts],
            fields_changed=sum(len(o.changes) for o in result.changed),
        )
    return render(request, "rules/edit.html#preview", context)


@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(Rule, pk=pk)
    if request.method == "POST":
        try:
            services.rule_delete(rule=rule, user=request.user)
        except ProtectedError:
            messages.error(request, "This rule is still referenced and cannot be deleted.")
            return redirect("rules:edit", pk=pk)
        messages.success(
            request, f"Deleted rule “{rule.name}”; the lines it set are being re-applied."
        )
        return redirect("rules:list")
    focus = spec_from_models(rule, rule.conditions.all(), rule.actions.all())
    inactive = dataclasses.replace(focus, is_active=False)
    result = preview(specs=specs_saved(), focus=inactive, at=timezone.now().isoformat())
    return render(request, "rules/delete.html", {"rule": rule, "result": result})


@require_POST
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(Rule, pk=pk)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is not None:
        services.rule_move(rule=rule, offset=offset, user=request.user)
    return _after_order_change(request)


@require_POST
def rule_reorder(request: HttpRequest) -> HttpResponse:
    raw = request.POST.getlist("order")
    try:
        order = [int(value) for value in raw]
        services.rules_reorder(order=order, user=request.user)
    except (ValueError, services.RuleOrderError) as exc:
        message = str(exc) if isinstance(exc, services.RuleOrderError) else "Unreadable order."
        messages.error(request, message)
        if request.htmx:
            return HttpResponseClientRedirect(reverse("rules:list"))
    return _after_order_change(request)


def _after_order_change(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        context = {"rows": _rule_rows(), "reordered": True}
        return render(request, "rules/list.html#rule-table", context)
    return redirect("rules:list")


@require_POST
def rules_defaults(request: HttpRequest) -> HttpResponse:
    created = services.rules_defaults_restore(user=request.user)
    if created:
        messages.success(
            request, f"Restored {len(created)} default rule(s) at the end of the list."
        )
    else:
        messages.info(request, "Every default rule is already there.")
    return redirect("rules:list")


@require_POST
def rules_apply(request: HttpRequest) -> HttpResponse:
    services.rule_run_start(scope=RuleRun.Scope.ALL, user=request.user)
    messages.success(request, "Applying every rule to every existing line in the background.")
    return redirect("rules:list")


@require_GET
def run_status(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        SyncRun.objects.select_related("rule_run"), pk=pk, kind=SyncRun.Kind.RULES
    )
    if request.GET.get("polling") and run.status not in ("QUEUED", "RUNNING"):
        return HttpResponseClientRefresh()  # it just ended: the counts on the page moved
    return render(request, "rules/list.html#run-status", {"run": run})


def _page_number(request: HttpRequest) -> int:
    """`?page=N`; a wrong one is page 1 (past the end: the last page, as Paginator does)."""
    return param_int(request.GET, "page", default=1, lenient=True) or 1


@require_GET
def uncategorized(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.lines_uncategorized(), PAGE_SIZE).get_page(_page_number(request))
    context = {
        "page": page,
        "counterparties": selectors.uncategorized_counterparties(),
        "off_chart": selectors.bookings_off_chart(chart_current()),
    }
    return render(request, "rules/uncategorized.html", context)


@require_http_methods(["GET", "POST"])
def line_detail(request: HttpRequest, pk: int) -> HttpResponse:
    line = selectors.line_with_booking(line_id=pk)
    if line is None:
        raise Http404("No such line.")
    booking = getattr(line, "categorization", None)
    chart = chart_current()
    initial = CategorizationForm.initial_for(booking)
    form = CategorizationForm(initial=initial, chart=chart)
    if request.method == "POST":
        form = CategorizationForm(request.POST, initial=initial, chart=chart)
        if form.is_valid():
            data = form.cleaned_data
            services.categorization_edit(
                line=line,
                user=request.user,
                values={name: data[name] for name in BOOKING_FIELDS},
                locked=set(data["locked"]),
            )
            messages.success(request, "Saved. Fields you changed are locked against rules.")
            return redirect("rules:line", pk=pk)
    provenance = [
        (
            name,
            getattr(booking, name) if booking else None,
            (booking.provenance.get(name) if booking else None),
            bool(booking and name in booking.locked_fields),
        )
        for name in BOOKING_FIELDS
    ]
    context = {
        "line": line,
        "booking": booking,
        "provenance": provenance,
        "form": form,
        "chart": chart,
        "decisions": selectors.line_decisions(line_id=pk)[:100],
    }
    return render(request, "rules/line.html", context)


@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.audit_entries(), PAGE_SIZE).get_page(_page_number(request))
    return render(request, "rules/audit.html", {"page": page})
