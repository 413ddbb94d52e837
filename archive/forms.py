from __future__ import annotations

from typing import Any

from django import forms

from archive.layout import folder_part, name_part
from archive.models import FilingRule, Function
from archive.rules import RuleError, pattern_compile
from treasury.params import DayField

UPLOAD_MAX_BYTES = 10 * 1024 * 1024


def kind_clean(kind: str) -> str:
    """A document's kind must give its file name a word."""
    if not name_part(kind):
        raise forms.ValidationError("Give a word for what it is, e.g. receipt.")
    return kind


class UploadForm(forms.Form):
    file = forms.FileField(help_text="A receipt, invoice, statement or any record; 10 MB at most.")
    sender = forms.CharField(
        max_length=200, required=False, help_text="Who sent it (a rule may match on it)."
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB.")
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload


class FilingRuleForm(forms.ModelForm):
    class Meta:
        model = FilingRule
        fields = [
            "order", "name", "text_pattern", "sender_pattern", "amount_pattern", "date_pattern",
            "function", "subject", "kind", "label", "is_active",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        patterns = ("text_pattern", "sender_pattern", "amount_pattern", "date_pattern")
        for name in patterns:
            if cleaned.get(name):
                try:
                    pattern_compile(cleaned[name])
                except RuleError as exc:
                    self.add_error(name, str(exc))
        if not any(cleaned.get(name) for name in patterns[:3]):
            raise forms.ValidationError("Set a text, sender or amount pattern.")
        return cleaned

    def clean_subject(self) -> str:
        subject = self.cleaned_data["subject"]
        if not any(folder_part(part) for part in subject.split("/")):
            raise forms.ValidationError("Give at least one folder, e.g. Receipts.")
        return subject

    def clean_kind(self) -> str:
        return kind_clean(self.cleaned_data["kind"])


class InboxFileForm(forms.Form):
    function = forms.ChoiceField(choices=Function.choices)
    subject = forms.CharField(max_length=120, help_text="Folders, e.g. Receipts.")
    kind = forms.CharField(max_length=40, help_text="e.g. receipt, invoice.")
    label = forms.CharField(max_length=80, required=False, help_text="e.g. the sender.")
    about_on = DayField(label="Date it is about")

    def clean_kind(self) -> str:
        return kind_clean(self.cleaned_data["kind"])


class RetentionForm(forms.Form):
    scope = forms.CharField(max_length=120, help_text="A function, or function/subject.")
    years = forms.IntegerField(min_value=1, max_value=100)
