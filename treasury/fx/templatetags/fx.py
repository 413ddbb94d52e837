"""Template helpers for converted figures: `{% load fx %}`.

- `{{ rate|fx_rate }}`: a rate as published, or to seven significant digits.
- `{{ change|fx_change }}`: a percentage change with its sign.
- `{% fx_amount conversion %}`: the rounded amount with the rate, date and source in its
  title, or "no rate" for a missing one (pass the RateMissing as `missing=`).
"""

from decimal import ROUND_HALF_EVEN, Decimal

from django import template
from django.utils.html import format_html

from treasury.fx.convert import Conversion, RateMissing, rate_display
from treasury.money import money_format

register = template.Library()


@register.filter
def fx_rate(value: Decimal | None) -> str:
    return "" if value is None else rate_display(value)


@register.filter
def fx_change(value: Decimal | None) -> str:
    if value is None:
        return ""
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{'+' if rounded > 0 else ''}{rounded}%"


@register.simple_tag
def fx_amount(
    conversion: Conversion | None,
    missing: RateMissing | None = None,
    rounding: str = ROUND_HALF_EVEN,
) -> str:
    if conversion is None:
        return format_html(
            '<span class="badge badge--error" title="{}">no rate</span>', str(missing or "")
        )
    return format_html(
        '<span class="num" title="{}" data-source="{}">{}</span>',
        conversion.description,
        conversion.source,
        money_format(conversion.rounded(rounding), conversion.currency),
    )
