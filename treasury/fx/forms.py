from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from treasury.fx.models import Source
from treasury.fx.precision import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS, RateInvalid, rate_validate
from treasury.fx.services import FETCHED_SOURCES
from treasury.money import UnknownCurrencyError, currency_validate

PERIODS = {"3m": timedelta(days=92), "1y": timedelta(days=366), "5y": timedelta(days=5 * 366)}
PERIOD_CHOICES = [("3m", "3 months"), ("1y", "1 year"), ("5y", "5 years"), ("max", "All")]


class CurrencyField(forms.CharField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=3, min_length=3, **kwargs)  # type: ignore[arg-type]

    def clean(self, value: object) -> str:
        text = super().clean(value)
        if not text:
            return text
        try:
            return currency_validate(text)
        except UnknownCurrencyError as exc:
            raise forms.ValidationError(str(exc)) from exc


class HistoryForm(forms.Form):
    """Which pair the history chart shows (GET)."""

    source = forms.ChoiceField(choices=[(s, Source(s).label) for s in FETCHED_SOURCES])
    quote = CurrencyField(label="Currency")
    period = forms.ChoiceField(choices=PERIOD_CHOICES, initial="1y")


class FetchForm(forms.Form):
    source = forms.ChoiceField(choices=[(s, Source(s).label) for s in FETCHED_SOURCES])


class OverrideForm(forms.Form):
    """The owner's rate for a pair from a date: 1 base = rate quote."""

    base = CurrencyField(label="1 unit of")
    quote = CurrencyField(label="is worth, in")
    rate = forms.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, min_value=Decimal("1e-12")
    )
    date = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate
    )
    reason = forms.CharField(
        max_length=500, widget=forms.TextInput(), help_text="Kept in the audit log."
    )

    def clean_rate(self) -> Decimal:
        rate = self.cleaned_data["rate"]
        try:
            return rate_validate(rate)
        except RateInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("base") and data.get("base") == data.get("quote"):
            self.add_error("quote", "Choose a currency other than the one it is priced in.")
        return data


class OverrideRemoveForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Kept in the audit log.")
