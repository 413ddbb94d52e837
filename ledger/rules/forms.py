"""Forms of the rules pages: a rule with its condition and action formsets, and the
hand edit of one line's booking."""

from typing import Any

from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory

from accounts.models import CashAccount, Transaction
from ledger.chart import (
    Chart,
    account_code_problem,
    booking_problems,
    tax_type_problem,
    tracking_problem,
)
from ledger.rules.engine import ACCOUNT_CODE_RE, TAX_TYPE_RE
from ledger.rules.models import BOOKING_FIELDS, Action, Categorization, Condition, Rule

# Condition fields whose operator is implied (the form sets it).
IMPLIED_OPERATOR = {
    Condition.Field.AMOUNT: Condition.Operator.BETWEEN,
    Condition.Field.CURRENCY: Condition.Operator.IS_ONE_OF,
    Condition.Field.DIRECTION: Condition.Operator.IS_ONE_OF,
    Condition.Field.WISE_TYPE: Condition.Operator.IS_ONE_OF,
    Condition.Field.CASH_ACCOUNT: Condition.Operator.IS_ONE_OF,
}
TREATMENT_PREFIX = "TREATMENT:"
ACTION_CHOICES = [
    (Action.Kind.ACCOUNT_CODE.value, "Set ledger account (code in the books)"),
    (Action.Kind.TAX_TYPE.value, "Set tax type"),
    (Action.Kind.CONTACT.value, "Set contact"),
    (Action.Kind.TRACKING.value, "Set tracking category and option"),
    (f"{TREATMENT_PREFIX}FEE", "Treat as bank fee"),
    (f"{TREATMENT_PREFIX}TRANSFER", "Treat as transfer between own balances"),
    (f"{TREATMENT_PREFIX}EXCLUDE", "Exclude from the books"),
    (f"{TREATMENT_PREFIX}NORMAL", "Treat as income or expense"),
]


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ["name", "match", "stop_processing", "is_active", "notes"]
        widgets = {
            "match": forms.RadioSelect,
            "notes": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "match": "A line matches when it meets",
            "stop_processing": "Stop: when this rule matches, skip the rules after it",
            "is_active": "Active",
        }


class ConditionForm(forms.ModelForm):
    class Meta:
        model = Condition
        fields = [
            "field",
            "operator",
            "value",
            "case_sensitive",
            "amount_min",
            "amount_max",
            "amount_absolute",
            "cash_account",
        ]
        widgets = {
            "value": forms.TextInput(attrs={"list": "rule-values", "autocomplete": "off"}),
            "amount_min": forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "from"}),
            "amount_max": forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "to"}),
        }
        labels = {"amount_absolute": "absolute", "case_sensitive": "match case"}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        implied = IMPLIED_OPERATOR.get(data.get("field"))
        if implied is not None:
            data["operator"] = implied
        return data


class ChartChoiceField(forms.ChoiceField):
    """A lookup of the chart whose value is checked against the chart by the form (so a
    refusal names the valid choices), not by the select's own list."""

    def valid_value(self, value: str) -> bool:
        return True


def chart_lookup(label: str, choices: list[tuple[str, str]], current: str) -> ChartChoiceField:
    """A select of the chart's `choices`, with the value already saved first when the chart
    no longer has it (shown, and refused on save, rather than silently dropped)."""
    if current and current not in {value for value, _ in choices}:
        choices = [(current, f"{current} · not in the books"), *choices]
    return ChartChoiceField(
        required=False, label=label, initial=current,
        choices=[("", f"Choose {'an' if label[0] in 'AEIOU' else 'a'} {label.lower()}…"),
                 *choices],
    )  # fmt: skip


class ActionForm(forms.ModelForm):
    """One thing a rule sets. With the organisation's chart known, an account code, a tax
    type and a tracking category and option are chosen from it (lookups, not text), and
    a value the chart does not have is refused with the valid ones named."""

    kind = forms.ChoiceField(choices=ACTION_CHOICES, label="Action")

    class Meta:
        model = Action
        fields = ["kind", "value", "option"]
        widgets = {
            "value": forms.TextInput(attrs={"placeholder": "code, tax type, contact or category"}),
            "option": forms.TextInput(attrs={"placeholder": "tracking option"}),
        }

    def __init__(self, *args: Any, chart: Chart | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chart = chart
        instance = self.instance
        if instance.pk and instance.kind == Action.Kind.TREATMENT:
            self.initial["kind"] = f"{TREATMENT_PREFIX}{instance.value}"
            self.initial["value"] = ""
        if chart is None:
            return
        code = instance.value if instance.pk and instance.kind == Action.Kind.ACCOUNT_CODE else ""
        tax = instance.value if instance.pk and instance.kind == Action.Kind.TAX_TYPE else ""
        self.fields["account"] = chart_lookup("Account", chart.account_choices(), code)
        if chart.tax_types:
            self.fields["tax"] = chart_lookup("Tax type", chart.tax_choices(), tax)
        if chart.tracking:
            self.fields["category"] = ChartChoiceField(
                required=False, label="Tracking category",
                choices=[("", "Category…"), *((c, c) for c in sorted(chart.tracking))],
            )  # fmt: skip
            self.fields["choice"] = ChartChoiceField(
                required=False, label="Tracking option",
                choices=[("", "Option…"), *(
                    (category, [(o, o) for o in options])
                    for category, options in sorted(chart.tracking.items())
                )],
            )  # fmt: skip
            if instance.pk and instance.kind == Action.Kind.TRACKING:
                self.fields["category"].initial = instance.value
                self.fields["choice"].initial = instance.option

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind", "")
        if kind.startswith(TREATMENT_PREFIX):
            data["kind"], data["value"] = Action.Kind.TREATMENT, kind.removeprefix(TREATMENT_PREFIX)
            return data
        picked = {"ACCOUNT_CODE": "account", "TAX_TYPE": "tax", "TRACKING": "category"}.get(kind)
        if picked in self.fields and data.get(picked):
            data["value"] = data[picked]
        if kind == Action.Kind.TRACKING and data.get("choice"):
            data["option"] = data["choice"]
        self._chart_check(kind, data)
        return data

    def _chart_check(self, kind: str, data: dict[str, Any]) -> None:
        value = (data.get("value") or "").strip()
        if kind == Action.Kind.ACCOUNT_CODE:
            problem = account_code_problem(self.chart, value)
            field = "account"
        elif kind == Action.Kind.TAX_TYPE:
            problem, field = tax_type_problem(self.chart, value), "tax"
        elif kind == Action.Kind.TRACKING:
            problem = tracking_problem(self.chart, value, (data.get("option") or "").strip())
            field = "category"
        else:
            return
        if problem:
            self.add_error(field if field in self.fields else "value", problem)


class _AccountChoicesFormSet(BaseInlineFormSet):
    """Reads the cash accounts once for every row's select, not once per row."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._account_choices = [("", "—")] + [
            (a.pk, str(a)) for a in CashAccount.objects.order_by("currency", "name")
        ]
        for form in [*self.forms, self.empty_form]:
            self._choices_set(form)

    def _choices_set(self, form: forms.BaseForm) -> None:
        if "cash_account" in form.fields:
            form.fields["cash_account"].choices = self._account_choices  # type: ignore[attr-defined]

    def clean(self) -> None:
        super().clean()
        if not any(kept(form) for form in self.forms):
            raise forms.ValidationError("Add at least one condition.")


class _ActionFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kinds: list[str] = []
        categories: set[str] = set()
        for form in self.forms:
            if not kept(form):
                continue
            kind = form.cleaned_data["kind"]
            if kind == Action.Kind.TRACKING:
                category = form.cleaned_data.get("value", "").strip().casefold()
                if category in categories:
                    raise forms.ValidationError("Each tracking category can be set once.")
                categories.add(category)
            elif kind in kinds:
                raise forms.ValidationError(f"“{Action.Kind(kind).label}” is set twice.")
            kinds.append(kind)
        if not kinds:
            raise forms.ValidationError("Add at least one action.")
        if len(categories) > 2:
            raise forms.ValidationError("Xero allows two tracking categories per line.")


def kept(form: forms.BaseForm) -> bool:
    """A formset row that holds data and is not marked for deletion."""
    data = getattr(form, "cleaned_data", None)
    return bool(data) and not data.get("DELETE")


# A rule has a handful of conditions and at most one action per field (two tracking
# categories): a request claiming 100,000 rows builds at most this many forms, and is
# refused ("at most 20") instead of costing seconds of server time.
MAX_ROWS = 20
ROWS_BOUNDED: dict[str, Any] = {"max_num": MAX_ROWS, "absolute_max": MAX_ROWS, "validate_max": True}


def condition_formset(
    *, data: Any = None, instance: Rule, initial: list[dict[str, Any]] | None = None
):
    formset_class = inlineformset_factory(
        Rule,
        Condition,
        form=ConditionForm,
        formset=_AccountChoicesFormSet,
        extra=len(initial or []) or (0 if instance.pk else 1),
        can_delete=True,
        **ROWS_BOUNDED,
    )
    return formset_class(data=data, instance=instance, initial=initial, prefix="conditions")


def action_formset(*, data: Any = None, instance: Rule, chart: Chart | None = None):
    formset_class = inlineformset_factory(
        Rule,
        Action,
        form=ActionForm,
        formset=_ActionFormSet,
        extra=0 if instance.pk else 1,
        can_delete=True,
        **ROWS_BOUNDED,
    )
    return formset_class(
        data=data, instance=instance, prefix="actions", form_kwargs={"chart": chart}
    )


def condition_initial_from_line(line: Transaction) -> list[dict[str, Any]]:
    """Conditions that pick out lines like this one: who, what, which type, currency."""
    initial: list[dict[str, Any]] = []
    if line.counterparty.strip():
        initial.append(
            {
                "field": Condition.Field.COUNTERPARTY,
                "operator": Condition.Operator.EQUALS,
                "value": line.counterparty.strip(),
            }
        )
    else:
        words = _stable_words(line.description)
        if words:
            initial.append(
                {
                    "field": Condition.Field.DESCRIPTION,
                    "operator": Condition.Operator.CONTAINS,
                    "value": words,
                }
            )
    if line.wise_type and line.wise_type != "UNKNOWN":
        initial.append(
            {
                "field": Condition.Field.WISE_TYPE,
                "operator": Condition.Operator.IS_ONE_OF,
                "value": line.wise_type,
            }
        )
    initial.append(
        {
            "field": Condition.Field.CURRENCY,
            "operator": Condition.Operator.IS_ONE_OF,
            "value": line.currency,
        }
    )
    return initial


def _stable_words(description: str) -> str:
    """The description up to its first digit: amounts, dates and references vary from
    line to line; the words before them usually do not."""
    text = description.strip()
    for index, char in enumerate(text):
        if char.isdigit():
            text = text[:index]
            break
    text = text.strip(" -:#,.")
    return text if len(text) >= 3 else description.strip()


class CategorizationForm(forms.Form):
    """The owner's hand edit of one line. A changed field is locked against rules."""

    treatment = forms.ChoiceField(choices=Categorization.Treatment.choices)
    account_code = forms.CharField(required=False, max_length=20, label="Account code")
    tax_type = forms.CharField(required=False, max_length=50, label="Tax type")
    contact_name = forms.CharField(required=False, max_length=255, label="Contact")
    tracking = forms.CharField(
        required=False,
        label="Tracking",
        help_text="Category: option; up to two, e.g. “Region: EU; Project: Hosting”.",
    )
    locked = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Locked against rules",
        choices=[(name, name.replace("_", " ")) for name in BOOKING_FIELDS],
        help_text="A field you change is locked for you; untick to hand it back to the rules.",
    )

    def __init__(self, *args: Any, chart: Chart | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chart = chart
        if chart is None:
            return
        self.fields["account_code"] = chart_lookup(
            "Account", chart.account_choices(), self.initial.get("account_code", "")
        )
        if chart.tax_types:
            self.fields["tax_type"] = chart_lookup(
                "Tax type", chart.tax_choices(), self.initial.get("tax_type", "")
            )
        if chart.tracking:
            self.fields["tracking"].widget.attrs["list"] = "chart-tracking"

    @classmethod
    def initial_for(cls, booking: Categorization | None) -> dict[str, Any]:
        if booking is None:
            return {"treatment": Categorization.Treatment.NORMAL}
        return {
            "treatment": booking.treatment,
            "account_code": booking.account_code,
            "tax_type": booking.tax_type,
            "contact_name": booking.contact_name,
            "tracking": "; ".join(f"{t['name']}: {t['option']}" for t in booking.tracking),
            "locked": booking.locked_fields,
        }

    def clean_account_code(self) -> str:
        code = self.cleaned_data["account_code"].strip()
        if code and not ACCOUNT_CODE_RE.search(code):
            raise forms.ValidationError("A Xero account code: letters and digits (e.g. 404).")
        return code

    def clean_tax_type(self) -> str:
        tax = self.cleaned_data["tax_type"].strip()
        if tax and not TAX_TYPE_RE.search(tax):
            raise forms.ValidationError("A Xero tax type, e.g. NONE, INPUT, OUTPUT.")
        return tax

    def clean_contact_name(self) -> str:
        return self.cleaned_data["contact_name"].strip()

    def clean_tracking(self) -> list[dict[str, str]]:
        pairs = []
        for part in self.cleaned_data["tracking"].split(";"):
            if not part.strip():
                continue
            name, sep, option = part.partition(":")
            if not sep or not name.strip() or not option.strip():
                raise forms.ValidationError(f"“{part.strip()}” is not “Category: option”.")
            pairs.append({"name": name.strip(), "option": option.strip()})
        if len(pairs) > 2:
            raise forms.ValidationError("Xero allows two tracking categories per line.")
        return pairs

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        problems = booking_problems(
            self.chart, account_code=data.get("account_code", ""),
            tax_type=data.get("tax_type", ""), tracking=data.get("tracking") or (),
        )  # fmt: skip
        for name, text in problems.items():
            self.add_error(name, text)
        return data
