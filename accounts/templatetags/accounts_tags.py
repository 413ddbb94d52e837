from django import template
from django.core.exceptions import ObjectDoesNotExist

from accounts.balances import source_label
from treasury.money import from_minor, money_format

register = template.Library()

RUN_BADGES = {
    "SUCCEEDED": "badge--ok",
    "FAILED": "badge--error",
    "SKIPPED": "badge--warn",
    "RUNNING": "badge--info",
    "QUEUED": "badge--info",
}


@register.simple_tag
def minor_money(units: int | None, currency: str) -> str:
    """`1,234.50 EUR` from integer minor units."""
    if units is None:
        return "—"
    return money_format(from_minor(units, currency), currency)


@register.filter
def run_badge(status: str) -> str:
    return RUN_BADGES.get(status, "")


@register.filter
def subtract(value: int | None, other: int | None) -> int | None:
    if value is None or other is None:
        return None
    return value - other


@register.filter
def balance_source(source: str) -> str:
    """`entered by hand`, `reported by Wise`, `from the lines`."""
    return source_label(source)


TREATMENT_LABELS = {"FEE": "Bank fee", "TRANSFER": "Transfer", "EXCLUDE": "Excluded"}


@register.simple_tag
def line_category(line: object, names: dict[str, str]) -> str:
    """A line's category as the transactions page names it: `485 · Subscriptions`,
    `Bank fee`, `Transfer`, `Uncategorized`, or `—` while the rules have not seen it."""
    try:
        booking = line.categorization  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return "—"
    if booking.treatment in TREATMENT_LABELS:
        return TREATMENT_LABELS[booking.treatment]
    code = booking.account_code
    if not code:
        return "Uncategorized"
    return f"{code} · {names[code]}" if code in names else code


@register.filter
def sum_lines(totals: list) -> int:
    return sum(t.lines for t in totals)
