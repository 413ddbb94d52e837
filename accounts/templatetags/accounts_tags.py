from django import template

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
