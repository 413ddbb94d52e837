"""The reconciliation summary (`reconciliation:queue`): open mismatches by type, each cash
account's "proved to" date, the latest runs, and links into the admin queue. The owner
can start a run; the page hides that control from the accountant."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from accounts.models import SyncRun
from ledger.reconciliation import selectors, services

ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    context = selectors.queue_overview()
    template = "reconciliation/queue.html"
    if request.htmx and request.htmx.target == "runs":
        runs = context.get("runs") or []
        if request.GET.get("polling") and not (runs and runs[0].status in ACTIVE):
            return HttpResponseClientRefresh()  # a run just ended: every count on the page moved
        template = "reconciliation/queue.html#runs"
    return render(request, template, context)


@require_POST
def run(request: HttpRequest) -> HttpResponse:
    organisations = services.organisations_reconcilable()
    if not organisations:
        messages.error(
            request, "Nothing to reconcile yet: connect Xero and map your cash accounts first."
        )
    for organisation in organisations:
        services.reconcile_enqueue(organisation_id=organisation.pk)
        messages.success(request, f"Reconciliation of {organisation.name} queued.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("reconciliation:queue"))
    return redirect("reconciliation:queue")
