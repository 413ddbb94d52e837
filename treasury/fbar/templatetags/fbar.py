"""Template helpers of the FBAR pages: `{% load fbar %}`.

- `{{ 10001|dollars }}`: whole dollars, `$10,001`.
- `{{ row.max_amount|money:row.currency }}`: `1,234.50 EUR`, `120,000 JPY`.
- `{{ percent|bar_width }}`: a progress bar's width, capped at 100.
"""

from decimal import Decimal

from django import template

from treasury.fbar.selectors import dollars as dollars_text
from treasury.money import money_format

register = template.Library()


@register.filter
def dollars(value: int | None) -> str:
    return "" if value is None else dollars_text(value)


@register.filter
def money(value: Decimal | None, currency: str) -> str:
    return "" if value is None else money_format(value, currency)


@register.filter
def bar_width(percent: Decimal) -> str:
    return str(min(int(percent), 100))
