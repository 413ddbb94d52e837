"""Forms of the work side: connecting ConnectWise, filtering invoices, the receivables panel."""

from __future__ import annotations

from datetime import date

from django import forms

from operations.selectors import STATUS_FILTERS, InvoiceFilters
from treasury.fx.models import Source
from treasury.money import UnknownCurrencyError, currency_validate


def _currency_or_blank(code: str | None) -> str:
    """An ISO 4217 code, upper-cased, or '' for none; a clear error for anything else."""
    if not code:
        return ""
    try:
        return currency_validate(code)
    except UnknownCurrencyError as exc:
        raise forms.ValidationError(str(exc)) from exc


class ConnectForm(forms.Form):
    site_url = forms.URLField(
        label="ConnectWise site", max_length=200, assume_scheme="https",
        help_text="The address you sign in at, e.g. https://na.myconnectwise.net",
    )  # fmt: skip
    company_id = forms.CharField(label="Company id", max_length=50)
    public_key = forms.CharField(label="Public key", max_length=100)
    private_key = forms.CharField(
        label="Private key", max_length=100, widget=forms.PasswordInput(render_value=False),
        help_text="An API member's keys (System > Members > API Members). Stored encrypted.",
    )  # fmt: skip
    client_id = forms.CharField(
        label="Client id", max_length=64,
        help_text="The integration's clientId from developer.connectwise.com.",
    )  # fmt: skip


class InvoiceFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(s, s.capitalize()) for s in STATUS_FILTERS], required=False, initial="all"
    )
    currency = forms.CharField(max_length=3, required=False)
    company = forms.CharField(max_length=100, required=False)
    number = forms.CharField(label="Invoice number", max_length=15, required=False)

    def clean_currency(self) -> str:
        return _currency_or_blank(self.cleaned_data.get("currency"))

    def filters(self) -> InvoiceFilters:
        data = self.cleaned_data
        return InvoiceFilters(
            status=data.get("status") or "all", currency=data.get("currency") or "",
            company=data.get("company") or "", number=data.get("number") or "",
        )  # fmt: skip


class ReceivablesForm(forms.Form):
    as_of = forms.DateField(label="As of", required=False)
    base = forms.CharField(label="Base currency", max_length=3, required=False)
    source = forms.ChoiceField(
        label="Rates", required=False,
        choices=[(s, Source(s).label) for s in (Source.ECB, Source.TREASURY, Source.WISE)],
    )  # fmt: skip

    def clean_base(self) -> str:
        return _currency_or_blank(self.cleaned_data.get("base"))

    def clean_as_of(self) -> date | None:
        day = self.cleaned_data.get("as_of")
        if day is not None and not date(2000, 1, 1) <= day <= date(2100, 12, 31):
            raise forms.ValidationError("Choose a date between 2000 and 2100.")
        return day
