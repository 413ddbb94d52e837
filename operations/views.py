"""Pages of the work side: the ConnectWise connection, the invoices, the receivables, and
the callback receiver. Writing is the owner's alone (treasury.access, for every URL)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from operations.connectwise.client import AuthenticationFailed, ConnectWiseError, NotFound
from operations.forms import ConnectForm, InvoiceFilterForm, ReceivablesForm
from operations.selectors import (
    BAND_LABELS,
    InvoiceFilters,
    connections,
    invoice_currencies,
    invoices_page,
    receivables,
    sync_run_latest,
)
from operations.services import (
    MAX_CALLBACK_BYTES,
    CallbackRejected,
    ConnectionDetails,
    callback_receive,
    connection_connect,
    connection_sync_request,
)
from treasury.fx.models import Source
from treasury.params import param_int


@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest) -> HttpResponse:
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection, warning = connection_connect(
                details=ConnectionDetails(**form.cleaned_data),
                callback_base_url=request.build_absolute_uri("/"),
            )
        except (AuthenticationFailed, NotFound) as exc:
            form.add_error(None, f"ConnectWise refused these details, nothing was saved: {exc}")
        except ConnectWiseError as exc:
            form.add_error(None, f"Could not reach ConnectWise, nothing was saved: {exc}")
        else:
            if warning:
                messages.warning(request, warning)
            messages.success(request, f"Connected {connection}. The first sync is queued.")
            return redirect("operations:invoices")
    return render(request, "operations/connect.html", {"form": form, "connections": connections()})


@require_POST
def sync_now(request: HttpRequest) -> HttpResponse:
    linked = connections()
    if not linked:
        messages.error(request, "Connect ConnectWise first: there is nothing to sync.")
        return redirect("operations:connect")
    full = request.POST.get("full") == "1"  # everything read again, deletions found
    for connection in linked:
        label = f"{connection} ({'full, ' if full else ''}by hand)"
        connection_sync_request(connection=connection, full=full, label=label)
    messages.success(request, f"A {'full ' if full else ''}ConnectWise sync is queued.")
    return redirect("operations:invoices")


@require_GET
def invoices(request: HttpRequest) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None)
    filters = form.filters() if form.is_valid() else InvoiceFilters()
    today = timezone.localdate()
    page = invoices_page(filters, today=today, page=param_int(request.GET, "page", default=1))
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "form": form, "page": page, "filters": filters, "today": today,
        "currencies": invoice_currencies(), "connections": connections(),
        "last_run": sync_run_latest(),
        "base_query": query.urlencode(),
    }  # fmt: skip
    template = "operations/invoices.html"
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, f"{template}#invoice-results" if request.htmx else template, context,
                  status=status)  # fmt: skip


@require_GET
def receivables_panel(request: HttpRequest) -> HttpResponse:
    form = ReceivablesForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    as_of = data.get("as_of") or timezone.localdate()
    base = data.get("base") or settings.BASE_CURRENCY
    source = data.get("source") or Source.ECB
    panel = receivables(as_of=as_of, base=base, source=source)
    context = {"form": form, "panel": panel, "band_labels": BAND_LABELS,
               "connections": connections()}  # fmt: skip
    template = "operations/receivables.html"
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, f"{template}#receivables" if request.htmx else template, context,
                  status=status)  # fmt: skip


@csrf_exempt  # ConnectWise cannot send a CSRF token; the body's signature is checked
@login_not_required
@require_POST
def callback(request: HttpRequest, connection_id: int) -> JsonResponse:
    try:
        outcome = callback_receive(
            connection_id=connection_id,
            # At most one byte past the limit is read: the receiver refuses the rest.
            body=request.read(MAX_CALLBACK_BYTES + 1),
            signature=request.headers.get("x-content-signature"),
        )
    except CallbackRejected as exc:
        # 403 is not among the statuses ConnectWise retries (404, 409, 419, 429).
        return JsonResponse({"error": str(exc)}, status=403)
    return JsonResponse({"status": outcome})
