"""The cash view's choices, read from the query string so every view is a shareable URL.

A wrong value is named and replaced by its default, never a 500 and never a blank page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.http import QueryDict

from treasury.cashview.selectors import DEFAULT_RANGE, SOURCES, Choices
from treasury.fx.models import Source
from treasury.fx.policy import RateDatePolicy
from treasury.money import UnknownCurrencyError, currency_validate
from treasury.params import DayField

RANGE_LABELS = {"3m": "3 months", "1y": "1 year", "3y": "3 years", "all": "All"}
FORMATS = ("csv", "xlsx")


class CurrencyField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=3, min_length=3, **kwargs)

    def clean(self, value: object) -> str:
        text = super().clean(value)
        try:
            return currency_validate(text)
        except UnknownCurrencyError as exc:
            raise forms.ValidationError(str(exc)) from exc


class NotAfterToday(DayField):
    def __init__(self, *, today: date, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.today = today

    def clean(self, value: object) -> date:
        day = super().clean(value)
        if day > self.today:
            raise forms.ValidationError(
                f"{day:%Y-%m-%d} is after today: balances exist up to {self.today:%Y-%m-%d}."
            )
        return day


class ChoicesForm(forms.Form):
    base = CurrencyField(label="Base currency")
    as_of = forms.DateField(label="As of")  # replaced per instance: bounded by today
    policy = forms.ChoiceField(label="Rate date", choices=RateDatePolicy.choices)
    range = forms.ChoiceField(label="Charts", choices=list(RANGE_LABELS.items()))
    source = forms.ChoiceField(label="Rates", choices=[(s, Source(s).label) for s in SOURCES])

    def __init__(self, data: QueryDict, *, today: date) -> None:
        super().__init__(data)
        self.fields["as_of"] = NotAfterToday(label="As of", today=today)


def choices_parse(query: QueryDict, *, today: date) -> tuple[Choices, list[str]]:
    """The choices in `query` (defaults for the missing ones) and a message per wrong one."""
    defaults: dict[str, Any] = {
        "base": settings.BASE_CURRENCY,
        "as_of": today,
        "policy": RateDatePolicy.TRANSACTION_DATE,
        "range": DEFAULT_RANGE,
        "source": Source.ECB,
    }
    given = QueryDict(mutable=True)
    for name, default in defaults.items():
        value = query.get(name, "").strip()
        given[name] = value or (default.isoformat() if isinstance(default, date) else default)
    form = ChoicesForm(given, today=today)
    form.is_valid()
    errors = [
        f"{form.fields[name].label}: {' '.join(messages)}" for name, messages in form.errors.items()
    ]
    chosen = {name: form.cleaned_data.get(name, default) for name, default in defaults.items()}
    return (
        Choices(
            base=chosen["base"],
            as_of=chosen["as_of"],
            policy=RateDatePolicy(chosen["policy"]),
            range=chosen["range"],
            source=chosen["source"],
            today=today,
        ),
        errors,
    )


class PeriodForm(forms.Form):
    """The period of a transactions export (both days included)."""

    start = DayField()
    end = DayField()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(
                f"The period starts ({start:%Y-%m-%d}) after it ends ({end:%Y-%m-%d})."
            )
        return data
