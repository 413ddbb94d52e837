"""Forms of the mismatch queue's actions."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Transaction
from ledger.models import LedgerEntry
from ledger.reconciliation.models import Mismatch
from treasury.money import money_format


class IgnoreForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Why this difference is fine. Kept in the mismatch's history.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why: a reason is required.")
        return reason


class AcceptForm(IgnoreForm):
    """Accept a difference: which side is right, and why (both kept in its history)."""

    right_side = forms.ChoiceField(
        label="Which side is right?",
        choices=[
            (Mismatch.Side.WISE, Mismatch.Side.WISE.label),
            (Mismatch.Side.XERO, Mismatch.Side.XERO.label),
        ],
        widget=forms.RadioSelect,
    )
    field_order = ["right_side", "reason"]


def _line_label(line: Transaction) -> str:
    who = line.counterparty or line.description or line.wise_type
    amount = money_format(line.amount, line.currency)
    return f"{line.booked_on} · {amount} · {who} · {line.reference_number}"


def _entry_label(entry: LedgerEntry) -> str:
    who = entry.contact_name or entry.get_kind_display()
    return (
        f"{entry.date} · {money_format(entry.amount, entry.currency)} · {who} · {entry.reference}"
    )


class LinkForm(forms.Form):
    """Choose the lines and entries that are the same money as the mismatch's own."""

    lines = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Wise lines"
    )
    entries = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Xero entries"
    )

    def __init__(
        self,
        *args: Any,
        lines: list[Transaction],
        entries: list[LedgerEntry],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lines"].choices = [(t.pk, _line_label(t)) for t in lines]
        self.fields["entries"].choices = [(e.pk, _entry_label(e)) for e in entries]
