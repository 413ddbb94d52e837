"""The Xero page (`ledger:xero`): connection, organisation, mode, mapping, posting status
and read-back. Writes go to the owner only (enforced centrally); the page hides their
controls from the accountant."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from ledger import mapping, selectors, services
from ledger.books import BooksError, ConnectError
from ledger.forms import MappingForm, ModeForm, TenantForm
from ledger.models import BooksConnection, Organisation
from ledger.selectors import connection_current
from treasury.params import param_text

SESSION_KEY = "xero_oauth"
# The provider whose sign-in this page drives (its URLs, redirect and settings are Xero's).
PROVIDER = Organisation.Provider.XERO
OAUTH_TEXT_MAX = 2048  # an authorization code or state, far longer than Xero's


def _redirect_uri(request: HttpRequest) -> str:
    return settings.XERO_REDIRECT_URI or request.build_absolute_uri(reverse("ledger:xero_callback"))


def _back(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(reverse("ledger:xero"))
    return redirect("ledger:xero")


def _organisation() -> Organisation | None:
    connection = connection_current()
    if connection is None or connection.status != BooksConnection.Status.CONNECTED:
        return None
    return connection.organisation


@require_GET
def xero(request: HttpRequest) -> HttpResponse:
    overview = selectors.xero_overview()
    organisation: Organisation | None = overview["organisation"]
    context: dict[str, Any] = {**overview, "configured": bool(settings.XERO_CLIENT_ID)}
    connection = overview["connection"]
    if connection is not None and connection.status == BooksConnection.Status.CHOOSING:
        context["tenant_form"] = TenantForm(tenants=connection.tenants)
    if organisation is not None and connection.status == BooksConnection.Status.CONNECTED:
        proposals = mapping.proposals(organisation)
        context.update(
            mode_form=ModeForm(initial={"mode": organisation.mode}),
            mapping_form=MappingForm(
                organisation=organisation,
                proposals=proposals,
                suggestions=mapping.special_suggestions(organisation),
            ),
            mapping_missing=mapping.mapping_complete(organisation),
            status=selectors.posting_status(organisation),
            runs=selectors.runs_last(organisation),
            balances=selectors.balances_compared(organisation),
            entries=selectors.entries_recent(organisation),
            not_ours=selectors.entries_not_ours(organisation) if organisation.posts else 0,
        )
    template = "ledger/xero.html"
    if request.htmx and request.htmx.target in ("posting", "sync"):
        run = (context.get("runs") or {}).get(
            "push" if request.htmx.target == "posting" else "pull"
        )
        if request.GET.get("polling") and not (run and run.status in ("QUEUED", "RUNNING")):
            return HttpResponseClientRefresh()  # it just ended: the counts on the page moved
        template = f"ledger/xero.html#{request.htmx.target}"
    return render(request, template, context)


@require_POST
def xero_connect(request: HttpRequest) -> HttpResponse:
    try:
        started = services.books_connect_start(
            provider=PROVIDER, redirect_uri=_redirect_uri(request)
        )
    except ConnectError as exc:
        messages.error(request, str(exc))
        return _back(request)
    request.session[SESSION_KEY] = {"state": started.state, "verifier": started.code_verifier}
    return redirect(started.url)


@require_GET
def xero_callback(request: HttpRequest) -> HttpResponse:
    """Xero sends the owner back here. Only the browser that started the sign-in holds
    the matching state and PKCE verifier, so this GET cannot be replayed by anyone else."""
    pending = request.session.pop(SESSION_KEY, None) or {}
    error = param_text(request.GET, "error")
    if error:
        messages.error(request, f"Xero did not connect: {error}.")
        return redirect("ledger:xero")
    try:
        services.books_connect_finish(
            provider=PROVIDER,
            code=param_text(request.GET, "code", max_length=OAUTH_TEXT_MAX),
            state=param_text(request.GET, "state", max_length=OAUTH_TEXT_MAX),
            expected_state=pending.get("state", ""),
            code_verifier=pending.get("verifier", ""),
            redirect_uri=_redirect_uri(request),
            user=request.user,
        )
    except ConnectError as exc:
        messages.error(request, str(exc))
        return redirect("ledger:xero")
    messages.success(request, "Xero is connected.")
    return redirect("ledger:xero")


@require_POST
def xero_tenant(request: HttpRequest) -> HttpResponse:
    connection = connection_current()
    if connection is None or connection.status != BooksConnection.Status.CHOOSING:
        messages.error(request, "There is no organisation to choose; connect first.")
        return _back(request)
    form = TenantForm(request.POST, tenants=connection.tenants)
    if form.is_valid():
        organisation = services.books_tenant_choose(
            connection=connection, tenant_id=form.cleaned_data["tenant_id"]
        )
        messages.success(request, f"Bulwark works with {organisation.name}.")
    else:
        messages.error(request, "Choose one of the organisations.")
    return _back(request)


@require_POST
def xero_custom(request: HttpRequest) -> HttpResponse:
    try:
        organisation = services.books_custom_connect(provider=PROVIDER, user=request.user)
    except BooksError as exc:
        messages.error(request, str(exc))
        return _back(request)
    messages.success(request, f"Connected to {organisation.name} (custom connection).")
    return _back(request)


@require_POST
def xero_disconnect(request: HttpRequest) -> HttpResponse:
    connection = connection_current()
    if connection is None:
        messages.info(request, "Xero is not connected.")
        return _back(request)
    services.books_disconnect(connection=connection)
    messages.success(request, "Xero is disconnected; the stored tokens are gone.")
    return _back(request)


def organisation_action(
    view: Callable[[HttpRequest, Organisation], None],
) -> Callable[[HttpRequest], HttpResponse]:
    """A POST acting on the connected organisation: the view sets its messages, and the
    owner lands back on the page (or sees why nothing could be done)."""

    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        organisation = _organisation()
        if organisation is None:
            messages.error(request, "Connect Xero and choose an organisation first.")
        else:
            view(request, organisation)
        return _back(request)

    return wrapped


@organisation_action
def xero_mode(request: HttpRequest, organisation: Organisation) -> None:
    form = ModeForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return
    services.books_mode_set(
        organisation=organisation, mode=form.cleaned_data["mode"], user=request.user
    )
    messages.success(request, f"Mode: {organisation.get_mode_display()}.")


@organisation_action
def xero_settings_refresh(request: HttpRequest, organisation: Organisation) -> None:
    try:
        services.books_settings_refresh(organisation=organisation)
        messages.success(request, "Read the organisation's settings and accounts from Xero.")
    except BooksError as exc:
        messages.error(request, f"Could not read Xero: {exc}")


@organisation_action
def xero_mapping(request: HttpRequest, organisation: Organisation) -> None:
    form = MappingForm(
        request.POST,
        organisation=organisation,
        proposals=mapping.proposals(organisation),
        suggestions=mapping.special_suggestions(organisation),
    )
    if not form.is_valid():
        messages.error(request, "Some choices are not available any more; read them again.")
        return
    data = form.cleaned_data
    try:
        services.books_mapping_save(
            organisation=organisation,
            bank=form.bank_choices(),
            fee=data["fee"],
            fx_clearing=data["fx_clearing"],
            suspense=data["suspense"],
            post_from=data.get("post_from"),
            names=form.names,
        )
    except mapping.MappingError as exc:
        messages.error(request, str(exc))
    except BooksError as exc:
        messages.error(request, f"Xero refused: {exc}")
    else:
        messages.success(request, "Mapping saved.")


@organisation_action
def xero_push(request: HttpRequest, organisation: Organisation) -> None:
    if organisation.posts:
        services.push_enqueue(organisation=organisation)
        messages.success(request, "Posting to Xero has started.")
    else:
        messages.info(request, "Audit only: Bulwark does not post.")


@organisation_action
def xero_pull(request: HttpRequest, organisation: Organisation) -> None:
    services.pull_enqueue(organisation=organisation)
    messages.success(request, "Reading the books back from Xero has started.")


@organisation_action
def xero_repost(request: HttpRequest, organisation: Organisation) -> None:
    count = services.books_repost_stale(organisation=organisation)
    messages.success(request, f"{count} changed line(s) will be re-posted to Xero.")


@organisation_action
def xero_retry(request: HttpRequest, organisation: Organisation) -> None:
    count = services.books_retry_refused(organisation=organisation)
    messages.success(request, f"{count} refused line(s) will be sent again.")
