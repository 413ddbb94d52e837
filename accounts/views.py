"""Pages of money held: accounts and their sync, the Wise connection, transactions, and
the Wise webhook receiver."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.categories import category_names
from accounts.forms import TransactionFilterForm, WiseConnectForm
from accounts.models import CashAccount, WiseConnection
from accounts.selectors import (
    PageCursor,
    accounts_overview,
    gaps_open,
    sync_run_last_failed,
    sync_runs_active,
    sync_runs_with_steps,
    transactions_page,
    transactions_totals,
    wise_connections,
)
from accounts.wise.client import WiseAuthError, WiseError
from accounts.wise.sca import fingerprint
from accounts.wise.services import (
    ConnectionSecrets,
    wise_account_sync_request,
    wise_connection_delete,
    wise_connection_keypair_generate,
    wise_connection_save,
    wise_connection_sync_request,
    wise_profiles_fetch,
)
from accounts.wise.webhooks import MAX_BODY_BYTES, WebhookRejected, wise_webhook_receive
from treasury.params import param_ids

PAGE_SIZE = 50  # transactions per page

# --- accounts and their sync --------------------------------------------------------------


@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    active = sync_runs_active()
    context = {**_accounts_context(), **_progress_context([run.pk for run in active])}
    return render(request, "accounts/list.html", context)


def _accounts_context() -> dict[str, Any]:
    return {
        "accounts": list(accounts_overview(on=timezone.localdate())),
        "connections": list(wise_connections()),
        "gaps": list(gaps_open()),
        "failed_run": sync_run_last_failed(),
    }


def _progress_context(run_ids: list[int]) -> dict[str, Any]:
    runs = sync_runs_with_steps(run_ids=run_ids)
    active = any(run.status in ("QUEUED", "RUNNING") for run, _ in runs)
    query = "&".join(f"run={pk}" for pk in run_ids)
    return {"sync_runs": runs, "sync_active": active, "sync_query": query}


@require_GET
def sync_progress(request: HttpRequest) -> HttpResponse:
    """The live progress region, polled while a sync runs; once it ends, the accounts
    table is swapped in too (out of band) with the new balances."""
    run_ids = param_ids(request.GET, "run", limit=10)
    context = _progress_context(run_ids)
    if not context["sync_active"] and run_ids:
        context.update(_accounts_context(), oob=True)
    return render(request, "accounts/list.html#sync-progress", context)


@require_POST
def sync_now(request: HttpRequest) -> HttpResponse:
    connections = list(WiseConnection.objects.all())
    if not connections:
        messages.error(request, "Connect Wise first: there is nothing to sync.")
        return redirect("accounts:list")
    runs = [wise_connection_sync_request(connection=c) for c in connections]
    if request.htmx:
        return render(
            request, "accounts/list.html#sync-progress", _progress_context([run.pk for run in runs])
        )
    messages.success(request, "Sync started. This page shows its progress.")
    return redirect("accounts:list")


@require_POST
def account_sync(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(CashAccount, pk=account_id, wise_balance_id__isnull=False)
    wise_account_sync_request(account=account, label=f"{account} (by hand)")
    messages.success(request, f"A sync of {account} is queued.")
    return redirect("accounts:list")


# --- the Wise connection ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def wise_connect(request: HttpRequest) -> HttpResponse:
    form = WiseConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = _connect(request, form)
        if connection is not None:
            messages.success(request, f"Connected {connection}. The first sync is queued.")
            wise_connection_sync_request(connection=connection)
            return redirect("accounts:list")
    return render(request, "accounts/connect.html", _connect_context(form))


def _connect_context(form: WiseConnectForm, **extra: Any) -> dict[str, Any]:
    connections = [
        (
            c,
            fingerprint(c.sca_private_key) if c.sca_private_key else "",
            fingerprint(c.webhook_public_key) if c.webhook_public_key else "",
        )
        for c in wise_connections(secrets=True)
    ]
    return {
        "form": form,
        "connections": connections,
        "webhook_path": reverse("accounts:wise_webhook"),
        **extra,
    }


def _connect(request: HttpRequest, form: WiseConnectForm) -> WiseConnection | None:
    """Check the token with Wise and save; None (with form errors) when it cannot be."""
    data = form.cleaned_data
    try:
        profiles = wise_profiles_fetch(token=data["api_token"], environment=data["environment"])
    except WiseAuthError as exc:
        form.add_error("api_token", f"Wise refused this token: {exc}")
        return None
    except WiseError as exc:
        form.add_error(None, f"Could not reach Wise, nothing was saved: {exc}")
        return None
    form.set_profiles([(p.id, f"{p.name} ({p.type.lower()})") for p in profiles])
    chosen = [p for p in profiles if p.id == data.get("profile_id")]
    if not chosen and len(profiles) == 1:
        chosen = profiles
    if not chosen:
        form.add_error("profile_id", "Choose which profile to connect (enter the token again).")
        return None
    return wise_connection_save(
        profile=chosen[0],
        environment=data["environment"],
        sync_start=data["sync_start"],
        secrets=ConnectionSecrets(
            api_token=data["api_token"],
            sca_private_key=data["sca_private_key"] or None,
            webhook_public_key=data["webhook_public_key"] or None,
        ),
    )


@require_POST
def wise_profiles(request: HttpRequest) -> HttpResponse:
    """The profile choice for the token typed so far (htmx), or why there is none."""
    form = WiseConnectForm(request.POST)
    token = request.POST.get("api_token", "").strip()
    error = ""
    if not token:
        error = "Enter the API token first."
    else:
        try:
            profiles = wise_profiles_fetch(
                token=token, environment=request.POST.get("environment", "LIVE")
            )
            form.set_profiles([(p.id, f"{p.name} ({p.type.lower()})") for p in profiles])
        except WiseAuthError as exc:
            error = f"Wise refused this token: {exc}"
        except WiseError as exc:
            error = f"Could not reach Wise: {exc}"
    return render(
        request, "accounts/connect.html#profile-choice", {"form": form, "profile_error": error}
    )


@require_POST
def wise_keypair(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_object_or_404(WiseConnection, pk=connection_id)
    pair = wise_connection_keypair_generate(connection=connection)
    messages.success(request, "A new SCA key pair is ready: upload its public key to Wise.")
    return render(
        request,
        "accounts/connect.html",
        _connect_context(
            WiseConnectForm(), new_public_key=pair.public_pem, new_key_connection=connection
        ),
    )


@require_POST
def wise_disconnect(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_object_or_404(WiseConnection, pk=connection_id)
    wise_connection_delete(connection=connection)
    messages.success(request, f"Disconnected {connection}. Stored lines are kept.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("accounts:wise_connect"))
    return redirect("accounts:wise_connect")


# --- transactions ---------------------------------------------------------------------------


@require_GET
def transaction_list(request: HttpRequest) -> HttpResponse:
    accounts = list(CashAccount.objects.select_related("institution").order_by("currency", "name"))
    form = TransactionFilterForm(request.GET or None, accounts=accounts)
    filters = form.filters()
    page = transactions_page(
        filters=filters,
        after=PageCursor.parse(request.GET.get("after")),
        before=PageCursor.parse(request.GET.get("before")),
        size=PAGE_SIZE,
    )
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    codes = {
        getattr(getattr(line, "categorization", None), "account_code", "") for line in page.rows
    }
    context = {
        "form": form,
        "page": page,
        "totals": transactions_totals(filters=filters),
        "category_names": category_names(codes),
        "has_accounts": bool(accounts),
        "filtered": any(value for key, value in query.items()),
        "base_query": query.urlencode(),
    }
    template = "accounts/transactions.html"
    if request.htmx and not request.htmx.boosted:
        template += "#transactions-results"
    return render(request, template, context)


# --- the webhook ------------------------------------------------------------------------------


@csrf_exempt  # Wise cannot send a CSRF token; the RSA signature authenticates it
@login_not_required
@require_POST
def wise_webhook(request: HttpRequest) -> JsonResponse:
    try:
        outcome = wise_webhook_receive(
            # At most one byte past the limit is read: the receiver refuses the rest.
            body=request.read(MAX_BODY_BYTES + 1),
            signature=request.headers.get("X-Signature-SHA256"),
            delivery_id=request.headers.get("X-Delivery-Id"),
            is_test=request.headers.get("X-Test-Notification", "").lower() == "true",
        )
    except WebhookRejected as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"status": outcome.status})
