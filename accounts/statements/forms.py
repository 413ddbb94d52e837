from typing import Any

from django import forms
from django.http import QueryDict

from accounts.models import CashAccount
from accounts.statements.formats import LABELS
from accounts.statements.routing import (
    AccountKey,
    FileAccount,
    NewAccount,
    account_name_suggest,
    bank_name,
)

NEW = "new"
# A file naming more accounts than this is refused before any choice is read.
MAX_MAPPED_ACCOUNTS = 50


def _label(account: CashAccount) -> str:
    number = account.account_number
    tail = f" · ••{number[-4:]}" if number else ""
    return f"{account.name} · {account.currency} · {account.institution.name}{tail}"


class StatementUploadForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=CashAccount.objects.filter(is_active=True).select_related("institution"),
        required=False,
        empty_label="Find it from the file",
        help_text=(
            "Where the statement goes. Files that name their account (MT940, CAMT.053) go "
            "to the account holding that number; a Wise CSV names none, so choose it."
        ),
    )
    file = forms.FileField(
        label="Statement file",
        help_text="Wise CSV, CAMT.053 XML or MT940, as downloaded from Wise or your bank.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xml,.053,.sta,.mt940,.940,.txt"}),
    )
    format = forms.ChoiceField(
        choices=[("", "Detect from the file"), *LABELS.items()],
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        # Read the accounts once: a model choice field queries again for each use.
        field.choices = [  # type: ignore[attr-defined]
            ("", field.empty_label),  # type: ignore[attr-defined]
            *((account.pk, _label(account)) for account in field.queryset),  # type: ignore[attr-defined]
        ]


class AccountMappingForm(forms.Form):
    """Where one account of a file that Bulwark does not know goes: a new account, or an
    existing one of the same currency."""

    key = forms.CharField(widget=forms.HiddenInput, max_length=200)
    target = forms.ChoiceField(label="Put it into")
    name = forms.CharField(label="New account's name", max_length=200, required=False)
    institution = forms.CharField(label="Bank", max_length=200, required=False)

    def __init__(self, *args: Any, item: FileAccount | None = None,
                 accounts: list[CashAccount], **kwargs: Any) -> None:  # fmt: skip
        if item is not None:
            kwargs.setdefault("initial", {
                "key": item.key.token, "target": NEW, "name": account_name_suggest(item),
                "institution": bank_name(item),
            })  # fmt: skip
        super().__init__(*args, **kwargs)
        self.item = item
        token = self.data.get(self.add_prefix("key")) if self.is_bound else None
        currency = item.key.currency if item else AccountKey.from_token(token or "").currency
        self.accounts = {a.pk: a for a in accounts if a.currency == currency}
        self.fields["target"].choices = [
            (NEW, "A new account"),
            *((str(pk), _label(account)) for pk, account in self.accounts.items()),
        ]

    @property
    def account_key(self) -> AccountKey:
        return AccountKey.from_token(self.cleaned_data["key"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("target") == NEW and not (data.get("name") or "").strip():
            self.add_error("name", "Name the new account.")
        return data

    def choice(self) -> CashAccount | NewAccount:
        data = self.cleaned_data
        if data["target"] == NEW:
            return NewAccount(name=data["name"], institution=data["institution"])
        return self.accounts[int(data["target"])]


def mapping_forms_posted(data: QueryDict, accounts: list[CashAccount]) -> list[AccountMappingForm]:
    """The account choices a post carries (`map-0-key`, `map-1-key`, …), bounded."""
    found = []
    for index in range(MAX_MAPPED_ACCOUNTS):
        prefix = f"map-{index}"
        if f"{prefix}-key" not in data:
            break
        found.append(AccountMappingForm(data, prefix=prefix, accounts=accounts))
    return found
