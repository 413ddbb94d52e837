"""Forms of the Xero page: organisation choice, mode, mapping."""

from __future__ import annotations

from typing import Any

from django import forms

from ledger.mapping import Proposal, names_proposed, special_name
from ledger.models import ChartAccount, Organisation

NEW = "new"


class TenantForm(forms.Form):
    tenant_id = forms.ChoiceField(label="Organisation", widget=forms.RadioSelect)

    def __init__(self, *args: Any, tenants: list[dict[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant_id"].choices = [(t["tenant_id"], t["tenant_name"]) for t in tenants]


class ModeForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[
            (
                Organisation.Mode.AUDIT_ONLY,
                "Audit only: Wise's own Xero feed posts the lines; Bulwark only reads the "
                "books back and reconciles. Nothing is ever written to Xero.",
            ),
            (
                Organisation.Mode.POSTS,
                "Bulwark posts: Bulwark writes every Wise line to Xero. "
                "Turn off “record transactions” in Wise's own Xero integration first, or every "
                "line is booked twice.",
            ),
        ],
        widget=forms.RadioSelect,
    )
    confirm_no_native_feed = forms.BooleanField(
        required=False,
        label="Wise's own Xero integration does not record transactions in this organisation.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == Organisation.Mode.POSTS and not data.get("confirm_no_native_feed"):
            self.add_error(
                "confirm_no_native_feed",
                "Confirm that Wise's own integration is not posting, so nothing is booked twice.",
            )
        return data


def _label(account: ChartAccount) -> str:
    code = f"{account.code} · " if account.code else ""
    return f"{code}{account.name} ({account.currency})"


class MappingForm(forms.Form):
    """One bank-account choice per cash account, and the three special accounts."""

    fee = forms.ChoiceField(label="Bank fees", required=False)
    fx_clearing = forms.ChoiceField(label="FX clearing", required=False)
    suspense = forms.ChoiceField(label="Suspense (uncategorized lines)", required=False)
    post_from = forms.DateField(
        label="Post lines booked from",
        required=False,
        help_text="Leave empty to post every stored line.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(
        self,
        *args: Any,
        organisation: Organisation,
        proposals: list[Proposal],
        suggestions: dict[str, ChartAccount | None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.proposals = proposals
        can_create = organisation.posts
        self.names = names = names_proposed(organisation, [p.cash_account for p in proposals])
        for proposal in proposals:
            choices = [("", "Not mapped")] + [
                (a.account_id, _label(a)) for a in proposal.candidates
            ]
            if can_create and not proposal.blocked:
                name = names[proposal.cash_account.pk]
                choices.append((NEW, f"Create “{name}” in Xero"))
            # Nothing is created unless the owner picks "Create" for this row.
            self.fields[f"cash_{proposal.cash_account.pk}"] = forms.ChoiceField(
                label=str(proposal.cash_account),
                choices=choices,
                required=False,
                initial=proposal.suggested.account_id if proposal.suggested else "",
                help_text=proposal.blocked,
            )
        others = list(
            ChartAccount.objects.filter(organisation=organisation, status="ACTIVE")
            .exclude(type="BANK")
            .exclude(code="")
        )
        for purpose in ("fee", "fx_clearing", "suspense"):
            choices = [("", "Choose…")] + [(a.code, _label(a)) for a in others]
            if can_create and purpose != "fee":
                name = special_name(organisation, purpose)
                choices.append((NEW, f"Create “{name}” in Xero"))
            self.fields[purpose].choices = choices
            suggested = suggestions.get(purpose)
            self.fields[purpose].initial = suggested.code if suggested else ""
        self.fields["post_from"].initial = organisation.post_from

    def bank_fields(self) -> list[tuple[Proposal, forms.BoundField]]:
        return [(p, self[f"cash_{p.cash_account.pk}"]) for p in self.proposals]

    def bank_choices(self) -> dict[int, str]:
        return {
            p.cash_account.pk: self.cleaned_data.get(f"cash_{p.cash_account.pk}") or ""
            for p in self.proposals
            if self.cleaned_data.get(f"cash_{p.cash_account.pk}")
        }
