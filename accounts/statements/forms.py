from typing import Any

from django import forms

from accounts.models import CashAccount
from accounts.statements.formats import LABELS, max_bytes


class StatementUploadForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=CashAccount.objects.filter(is_active=True).select_related("institution"),
        empty_label=None,
        help_text="The balance the statement belongs to; its currency must match the file's.",
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
            (account.pk, f"{account.name} · {account.currency} · {account.institution.name}")
            for account in field.queryset  # type: ignore[attr-defined]
        ]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > max_bytes():
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {max_bytes():,} bytes."
            )
        return upload
