"""Display helpers of the rules pages."""

from typing import Any

from django import template

from ledger.rules.models import Categorization
from treasury.money import from_minor, money_format

register = template.Library()

FIELD_LABELS = {
    "treatment": "Treatment",
    "account_code": "Account code",
    "tax_type": "Tax type",
    "contact_name": "Contact",
    "tracking": "Tracking",
}


@register.filter
def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


@register.filter
def booking_value(value: Any, name: str = "") -> str:
    """A booking field's value as people read it; "—" for empty."""
    if isinstance(value, list):
        return "; ".join(f"{t.get('name')}: {t.get('option')}" for t in value) or "—"
    if name == "treatment" and value in Categorization.Treatment.values:
        return str(Categorization.Treatment(value).label)
    return str(value) if value not in (None, "") else "—"


@register.filter
def line_amount(line: Any) -> str:
    """A stored line's amount with its currency (from minor units, exact)."""
    return money_format(from_minor(line.amount_minor, line.currency), line.currency)


@register.filter
def iso_minute(value: str) -> str:
    """`2026-05-01T10:00:00+00:00` → `2026-05-01 10:00` (provenance stores ISO text)."""
    return str(value)[:16].replace("T", " ")
