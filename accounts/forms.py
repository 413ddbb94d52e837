from collections.abc import Callable
from typing import Any

from django import forms

from accounts.lines import WISE_TYPES
from accounts.models import CashAccount, WiseConnection
from accounts.selectors import TransactionFilters
from accounts.wise.sca import InvalidKeyError, private_key_load, public_key_load
from treasury.params import DayField

PEM_ATTRS = {"rows": 4, "spellcheck": "false", "autocomplete": "off", "class": "mono"}


class WiseConnectForm(forms.Form):
    """Connect a Wise profile, or update the secrets of one already connected."""

    environment = forms.ChoiceField(
        choices=WiseConnection.Environment.choices, initial=WiseConnection.Environment.LIVE
    )
    api_token = forms.CharField(
        label="API token",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Wise.com > Settings > API tokens. Read-only is enough.",
    )
    # Any profile id is valid here: the view checks it against the token's profiles.
    profile_id = forms.IntegerField(
        label="Profile",
        required=False,
        widget=forms.Select,
        help_text="Load the profiles this token can read, then pick one.",
    )
    sca_private_key = forms.CharField(
        label="SCA private key (optional)",
        required=False,
        widget=forms.Textarea(attrs={**PEM_ATTRS, "placeholder": "-----BEGIN PRIVATE KEY-----"}),
        help_text="For UK/EEA profiles, whose statements need strong customer authentication. "
        "Or leave empty and generate a key pair after connecting.",
    )
    webhook_public_key = forms.CharField(
        label="Wise webhook public key (optional)",
        required=False,
        widget=forms.Textarea(attrs={**PEM_ATTRS, "placeholder": "-----BEGIN PUBLIC KEY-----"}),
        help_text="From Wise's webhook documentation; lets Bulwark verify webhook deliveries.",
    )
    sync_start = forms.DateField(
        label="Import history from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: 1 January two years ago (or when the balance opened).",
    )

    def __init__(
        self, *args: Any, profiles: list[tuple[int, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.set_profiles(profiles or [])

    def set_profiles(self, profiles: list[tuple[int, str]]) -> None:
        self.fields["profile_id"].widget.choices = [("", "— choose a profile —"), *profiles]

    def clean_sca_private_key(self) -> str:
        return _pem_checked(self.cleaned_data["sca_private_key"], private_key_load)

    def clean_webhook_public_key(self) -> str:
        return _pem_checked(self.cleaned_data["webhook_public_key"], public_key_load)


def _pem_checked(value: str, load: Callable[[str], object]) -> str:
    """The PEM text if `load` can read it (empty is fine), else the reason as an error."""
    pem = value.strip()
    if pem:
        try:
            load(pem)
        except InvalidKeyError as exc:
            raise forms.ValidationError(str(exc)) from exc
    return pem


class TransactionFilterForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    currency = forms.ChoiceField(required=False)
    date_from = DayField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = DayField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    type = forms.ChoiceField(
        required=False,
        choices=[("", "All types"), *((t, t.replace("_", " ").title()) for t in WISE_TYPES)],
    )
    q = forms.CharField(
        label="Text",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Description, name, reference"}
        ),
    )

    def __init__(self, *args: Any, accounts: list[CashAccount], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", "All accounts"), *((a.pk, str(a)) for a in accounts)]
        currencies = sorted({a.currency for a in accounts})
        self.fields["currency"].choices = [("", "All currencies"), *((c, c) for c in currencies)]

    def filters(self) -> TransactionFilters:
        if not self.is_valid():
            return TransactionFilters()
        data = self.cleaned_data
        return TransactionFilters(
            account_id=data["account"],
            currency=data["currency"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            wise_type=data["type"],
            text=data["q"].strip(),
        )
