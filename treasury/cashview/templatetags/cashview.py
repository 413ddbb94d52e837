"""Formatting of the cash view's figures: `{% load cashview %}`.

- `{{ amount|money:"EUR" }}`: `1,234.50 EUR`, at the currency's minor unit.
- `{{ amount|signed_money:"EUR" }}`: with a sign: `+12.00 EUR`, and a true minus (U+2212).
- `{{ percent|signed_percent }}`: `+1.2%`.
"""

from decimal import Decimal

from django import template

from treasury.money import MINUS, money_format

register = template.Library()


@register.filter
def money(amount: Decimal | None, code: str) -> str:
    return "" if amount is None else money_format(amount, code)


@register.filter
def signed_money(amount: Decimal | None, code: str) -> str:
    if amount is None:
        return ""
    text = money_format(abs(amount), code)
    return f"+{text}" if amount > 0 else f"{MINUS}{text}" if amount < 0 else text


@register.filter
def signed_percent(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"+{value}%" if value > 0 else f"{MINUS}{abs(value)}%" if value < 0 else f"{value}%"
