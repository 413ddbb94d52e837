"""The FBAR pages: the year's worksheet with the monitor and Form 8938, its CSV and PDF,
and the owner's forms (settings, foreign accounts, month-end balances, the flag).

Writes are owner-only through the central read-only middleware; templates hide their
controls from the accountant. htmx requests (the flag, the settings) get `#worksheet`,
the region every figure of the year lives in, so nothing on the page goes stale.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import BalanceSnapshot, CashAccount, Institution
from treasury.access import can_write
from treasury.fbar import reports, selectors, services
from treasury.fbar.forms import (
    FLAG_HELP,
    AccountForm,
    FilingForm,
    FlagForm,
    ManualBalanceForm,
    SettingsForm,
)
from treasury.fbar.models import MANUAL_SOURCE, ThresholdAlert
from treasury.fbar.thresholds import FBAR_THRESHOLD_USD, MANY_ACCOUNTS
from treasury.params import param_choice, param_int

TEMPLATE = "fbar/report.html"
ACCOUNT_TEMPLATE = "fbar/account.html"


def _year(value: object, today: date, years: list[int] | None = None) -> int:
    """A year the page offers (this one and the five before, from the first year with
    data), or 404."""
    try:
        year = int(str(value))
    except ValueError as exc:
        raise Http404("Not a year") from exc
    years = selectors.report_years(today) if years is None else years
    if year not in years:
        raise Http404(f"FBAR years offered: {years[-1]} to {years[0]}")
    return year


def _year_posted(request: HttpRequest, today: date) -> int:
    posted = request.POST.get("year")
    return _year(posted, today) if posted else selectors.default_report_year(today)


def _worksheet_context(year: int, today: date) -> dict[str, Any]:
    result = selectors.fbar_year(year=year, today=today)
    filing = selectors.filing_of(year)
    return {
        "year": year,
        "result": result,
        "settings_form": SettingsForm(instance=result.settings),
        "threshold": FBAR_THRESHOLD_USD,
        "many_accounts": MANY_ACCOUNTS,
        "flag_help": FLAG_HELP,
        "filing": filing,
        "filing_state": selectors.filing_state(
            year=year,
            required=result.filing_required,
            filed_on=filing.filed_on if filing else None,
            today=today,
            current=result.is_current,
        ),
        "filing_form": FilingForm(
            initial={"year": year, "filed_on": filing.filed_on if filing else today}
        ),
    }


def _page_context(year: int, today: date, years: list[int] | None = None) -> dict[str, Any]:
    context = _worksheet_context(year, today)
    monitor = None
    if year != today.year:
        monitor = selectors.monitor_states(years=[today.year]).get(today.year)
    return {
        **context,
        "today": today,
        "years": selectors.report_years(today) if years is None else years,
        "monitor": monitor,
        "alerts": list(ThresholdAlert.objects.filter(year=year)),
    }


@require_GET
def report(request: HttpRequest, year: int | None = None) -> HttpResponse:
    today = timezone.localdate()
    years = selectors.report_years(today)
    asked = year
    if asked is None:  # a malformed ?year= is a 400; a year not offered, a 404
        asked = param_int(request.GET, "year", minimum=0, maximum=9999)
    if asked is None:
        year = selectors.default_report_year(today, years)
    else:
        year = _year(asked, today, years)
    if request.htmx and request.htmx.target == "worksheet":
        return render(request, f"{TEMPLATE}#worksheet", _worksheet_context(year, today))
    return render(request, TEMPLATE, _page_context(year, today, years))


@require_GET
def export(request: HttpRequest, year: int, extension: str) -> HttpResponse:
    """The worksheet as a file. Whole account numbers only in the owner's own copy;
    `?copy=accountant` gives the owner the masked one to pass on."""
    today = timezone.localdate()
    year = _year(year, today)
    copy = param_choice(request.GET, "copy", ["owner", "accountant"], default="owner")
    whole = can_write(request.user) and copy != "accountant"
    sheet = reports.Worksheet(
        result=selectors.fbar_year(year=year, today=today), whole_numbers=whole
    )
    if extension == "csv":
        body, content_type = reports.worksheet_csv(sheet), "text/csv; charset=utf-8"
    else:
        body, content_type = reports.worksheet_pdf(sheet), "application/pdf"
    response = HttpResponse(body, content_type=content_type)
    name = reports.export_filename(year, extension, today=today, masked=not whole)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"  # it may hold whole account numbers
    return response


@require_POST
def settings_save(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    year = _year_posted(request, today)
    form = SettingsForm(request.POST, instance=selectors.fbar_settings())
    if form.is_valid():
        data = form.cleaned_data
        services.fbar_settings_save(
            is_us_person=data["is_us_person"], filing_status=data["filing_status"],
            residence=data["residence"], user=request.user,
        )  # fmt: skip
        if not request.htmx:
            messages.success(request, "FBAR settings saved.")
            return redirect("fbar:report-year", year=year)
    if request.htmx:
        context = {**_worksheet_context(year, today), "settings_form": form}
        return render(
            request, f"{TEMPLATE}#worksheet", context, status=200 if form.is_valid() else 400
        )
    context = {**_page_context(year, today), "settings_form": form}
    return render(request, TEMPLATE, context, status=400)


@require_POST
def filing_save(request: HttpRequest) -> HttpResponse:
    """Record (or correct) the day the year's FinCEN 114 was filed, or clear it."""
    today = timezone.localdate()
    year = _year_posted(request, today)
    if request.POST.get("action") == "clear":
        services.fbar_filing_clear(year=year)
        messages.success(request, f"The {year} filing record is removed.")
        return redirect("fbar:report-year", year=year)
    form = FilingForm(request.POST)
    if form.is_valid():
        try:
            services.fbar_filing_record(
                year=year, filed_on=form.cleaned_data["filed_on"],
                reference=form.cleaned_data["reference"], user=request.user, today=today,
            )  # fmt: skip
        except services.FbarInputError as exc:
            messages.error(request, str(exc))
        else:
            filed_on = form.cleaned_data["filed_on"]
            messages.success(request, f"FinCEN 114 for {year}: filed on {filed_on:%Y-%m-%d}.")
        return redirect("fbar:report-year", year=year)
    messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("fbar:report-year", year=year)


@require_POST
def monitor_run_now(request: HttpRequest) -> HttpResponse:
    result = services.fbar_monitor_run()
    sent = len(result.alerts_sent)
    messages.success(
        request,
        f"Monitor run: {selectors.dollars(result.years[0].aggregate_usd)} so far this year"
        + (f"; {sent} alert{'s' if sent != 1 else ''} sent." if sent else "; no new alert."),
    )
    return redirect("fbar:report-year", year=result.years[0].year)


@require_POST
def account_flag(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(CashAccount, pk=pk)
    today = timezone.localdate()
    year = _year_posted(request, today)
    form = FlagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose Foreign or Not foreign.")
        return redirect("fbar:report-year", year=year)
    services.fbar_flag_set(
        account=account, is_foreign=form.cleaned_data["is_foreign"], user=request.user
    )
    if request.htmx:
        return render(request, f"{TEMPLATE}#worksheet", _worksheet_context(year, today))
    return redirect("fbar:report-year", year=year)


def _account_context(account: CashAccount | None, form: AccountForm) -> dict[str, Any]:
    balances: list[BalanceSnapshot] = []
    takes_balances = account is not None and account.institution.kind != Institution.Kind.WISE
    if account is not None:
        balances = list(
            BalanceSnapshot.objects.filter(account=account, source=MANUAL_SOURCE).order_by(
                "-taken_at"
            )[:36]
        )
    today = timezone.localdate()
    return {
        "account": account,
        "masked_number": selectors.account_number_masked(account.account_number) if account else "",
        "form": form,
        "balances": balances,
        "takes_balances": takes_balances,
        "balance_form": ManualBalanceForm(
            initial={"year": today.year, "month": max(today.month - 1, 1)}
        ),
        "flag_help": FLAG_HELP,
    }


@require_http_methods(["GET", "POST"])
def account_add(request: HttpRequest) -> HttpResponse:
    form = AccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.foreign_account_add(data=form.data_object(), user=request.user)
        except services.FbarInputError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{account.name} added. Enter its month-end balances, or import a statement.",
            )
            return redirect("fbar:account", pk=account.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, ACCOUNT_TEMPLATE, _account_context(None, form), status=status)


def _account(pk: int) -> CashAccount:
    return get_object_or_404(
        CashAccount.objects.select_related("institution", "fbar_details"), pk=pk
    )


@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(pk)
    if request.method == "GET":
        return render(
            request, ACCOUNT_TEMPLATE, _account_context(account, AccountForm.for_account(account))
        )
    form = AccountForm.for_account(account, request.POST)
    if form.is_valid():
        try:
            services.foreign_account_update(
                account=account, data=form.data_object(), user=request.user
            )
        except services.FbarInputError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{account.name}: FBAR details saved.")
            return redirect("fbar:account", pk=account.pk)
    return render(request, ACCOUNT_TEMPLATE, _account_context(account, form), status=400)


@require_POST
def balance_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(pk)
    form = ManualBalanceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.manual_balance_set(
                account=account, year=data["year"], month=data["month"], balance=data["balance"]
            )
        except services.FbarInputError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Month-end balance saved.")
            return redirect(reverse("fbar:account", args=[account.pk]) + "#balances")
    context = {**_account_context(account, AccountForm.for_account(account)), "balance_form": form}
    return render(request, ACCOUNT_TEMPLATE, context, status=400)


@require_POST
def balance_delete(request: HttpRequest, pk: int, snapshot_pk: int) -> HttpResponse:
    account = _account(pk)
    try:
        services.manual_balance_delete(account=account, snapshot_id=snapshot_pk)
    except services.FbarInputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Month-end balance removed.")
    return redirect(reverse("fbar:account", args=[account.pk]) + "#balances")
