from datetime import date
from typing import Any

from django import forms

from accounts.models import CashAccount
from treasury.fbar.models import FbarAccount, FbarSettings
from treasury.fbar.selectors import account_number_masked
from treasury.fbar.services import ForeignAccountData
from treasury.money import UnknownCurrencyError, currency_validate

DATE_WIDGET = forms.DateInput(attrs={"type": "date"})
FLAG_HELP = (
    "A foreign financial account is one held outside the United States. For a Wise "
    "balance that depends on the Wise entity holding it (Wise US Inc. is a U.S. company; "
    "Wise Europe SA is Belgian, Wise Payments Ltd British): you decide, with your tax "
    "adviser."
)


class SettingsForm(forms.ModelForm):
    class Meta:
        model = FbarSettings
        fields = ["is_us_person", "filing_status", "residence"]
        labels = {"is_us_person": "I am a U.S. person (citizen, resident, or U.S. entity)"}


class AccountForm(forms.Form):
    """A foreign account's FBAR details. For a Wise balance, name, currency and the
    bank's name come from Wise and are not asked."""

    name = forms.CharField(max_length=200, label="Account name")
    institution_name = forms.CharField(max_length=200, label="Financial institution")
    institution_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Institution address",
        help_text="Street, city, postal code and country, as on FinCEN 114.",
    )  # fmt: skip
    country = forms.CharField(
        max_length=2, min_length=2, label="Country code", help_text="ISO code, e.g. DE, GB, JP."
    )
    account_number = forms.CharField(
        max_length=60, required=False, label="Account number or designation",
        help_text="Stored encrypted; shown masked except in your own export.",
    )  # fmt: skip
    account_type = forms.ChoiceField(choices=FbarAccount.AccountType.choices)
    currency = forms.CharField(max_length=3, min_length=3)
    opened_on = forms.DateField(required=False, widget=DATE_WIDGET)
    closed_on = forms.DateField(required=False, widget=DATE_WIDGET)
    is_foreign = forms.BooleanField(
        required=False, initial=True, label="Foreign financial account for FBAR",
        help_text=FLAG_HELP,
    )  # fmt: skip

    def __init__(self, *args: Any, account: CashAccount | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        details = getattr(account, "fbar_details", None) if account else None
        if account is not None and not (details and details.added_here):
            for name in ("name", "institution_name"):
                self.fields[name].required = False
                self.fields[name].disabled = True
        if account is not None:
            self.fields["currency"].disabled = True
            masked = account_number_masked(account.account_number)
            if masked:  # the whole number never goes back to the browser
                field = self.fields["account_number"]
                field.label = f"New account number (now {masked})"
                field.help_text = "Leave empty to keep it. Stored encrypted."

    @classmethod
    def for_account(cls, account: CashAccount, data: Any = None) -> "AccountForm":
        """The form of an existing account (bound when `data` is given)."""
        details = getattr(account, "fbar_details", None)
        kind = details.account_type if details else FbarAccount.AccountType.BANK
        initial = {
            "name": account.name, "institution_name": account.institution.name,
            "institution_address": account.institution.address,
            "country": account.institution.country, "account_number": "",
            "account_type": kind, "currency": account.currency, "opened_on": account.opened_on,
            "closed_on": account.closed_on, "is_foreign": account.is_foreign_for_fbar,
        }  # fmt: skip
        return cls(data, initial=initial, account=account)

    def clean_currency(self) -> str:
        try:
            return currency_validate(self.cleaned_data["currency"])
        except UnknownCurrencyError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_country(self) -> str:
        code = self.cleaned_data["country"].strip().upper()
        if not code.isalpha():
            raise forms.ValidationError("Two letters, like DE or JP.")
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        opened, closed = data.get("opened_on"), data.get("closed_on")
        if opened and closed and closed < opened:
            self.add_error("closed_on", "The account cannot close before it opened.")
        return data

    def data_object(self) -> ForeignAccountData:
        data = self.cleaned_data
        return ForeignAccountData(
            name=data["name"], institution_name=data["institution_name"],
            institution_address=data["institution_address"].strip(), country=data["country"],
            account_number=data["account_number"], account_type=data["account_type"],
            currency=data["currency"], opened_on=data["opened_on"],
            closed_on=data["closed_on"], is_foreign=data["is_foreign"],
        )  # fmt: skip


class FlagForm(forms.Form):
    is_foreign = forms.TypedChoiceField(
        choices=[("1", "Foreign"), ("0", "Not foreign")], coerce=lambda value: value == "1"
    )


class FilingForm(forms.Form):
    """The day the year's FinCEN 114 went in, as BSA E-Filing confirmed it."""

    year = forms.IntegerField(widget=forms.HiddenInput)
    filed_on = forms.DateField(label="Filed on", widget=DATE_WIDGET)
    reference = forms.CharField(
        max_length=100, required=False, label="Confirmation number",
        help_text="BSA E-Filing's tracking or BSA ID, for your records (optional).",
    )  # fmt: skip


def _month_choices() -> list[tuple[int, str]]:
    return [(n, date(2000, n, 1).strftime("%B")) for n in range(1, 13)]


class ManualBalanceForm(forms.Form):
    """A month-end balance, in the account's currency, entered by hand."""

    year = forms.IntegerField(min_value=2000, max_value=2100)
    month = forms.TypedChoiceField(choices=_month_choices(), coerce=int)
    balance = forms.DecimalField(
        max_digits=20, help_text="The balance on the month's last day, in the account's currency."
    )
