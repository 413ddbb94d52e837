"""Money rules in one place: ISO 4217 currencies, minor units, rounding.

Amounts are `Decimal` with a currency code, never float. Rounding happens only where a
rounded figure is required, with an explicit mode. py-moneyed supplies the ISO table.
"""

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

from moneyed import CURRENCIES, Money, get_currency

__all__ = [
    "ROUND_HALF_EVEN",
    "ROUND_HALF_UP",
    "InexactAmountError",
    "Money",
    "UnknownCurrencyError",
    "currency_validate",
    "decimal_parse",
    "from_minor",
    "is_exact",
    "minor_units",
    "money_format",
    "quantize",
    "to_minor",
]


class UnknownCurrencyError(ValueError):
    def __init__(self, code: object) -> None:
        super().__init__(f"Unknown currency code {code!r} (expected an ISO 4217 code like EUR)")
        self.code = code


class InexactAmountError(ValueError):
    pass


def currency_validate(code: object) -> str:
    """The upper-case ISO 4217 code, or UnknownCurrencyError."""
    if not isinstance(code, str) or len(code.strip()) != 3:
        raise UnknownCurrencyError(code)
    normalized = code.strip().upper()
    if normalized not in CURRENCIES or normalized == "XXX":
        raise UnknownCurrencyError(code)
    return normalized


def minor_units(code: str) -> int:
    """Digits after the decimal point for the currency (USD 2, JPY 0, KWD 3)."""
    sub_unit = get_currency(currency_validate(code)).sub_unit
    return max(len(str(sub_unit)) - 1, 0)


def _exponent(code: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(code))


def quantize(amount: Decimal, code: str, rounding: str) -> Decimal:
    """Round to the currency's minor unit with the given (explicit) rounding mode."""
    return amount.quantize(_exponent(code), rounding=rounding)


def is_exact(amount: Decimal, code: str) -> bool:
    return amount == amount.quantize(_exponent(code), rounding=ROUND_HALF_EVEN)


def to_minor(amount: Decimal, code: str) -> int:
    """Integer minor units; refuses an amount finer than the currency allows."""
    if not is_exact(amount, code):
        raise InexactAmountError(f"{amount} {code} has more than {minor_units(code)} decimals")
    return int(amount.scaleb(minor_units(code)))


def from_minor(units: int, code: str) -> Decimal:
    return Decimal(units).scaleb(-minor_units(code)).quantize(_exponent(code))


def decimal_parse(value: object) -> Decimal:
    """Parse a number from text or JSON (never via float); raises ValueError."""
    if isinstance(value, (bool, float)):
        raise ValueError(f"Refusing a binary float for money: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace("\u2212", "-")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"Not a number: {value!r}") from exc
    else:
        raise ValueError(f"Not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"Not a finite number: {value!r}")
    return result


MINUS = "\u2212"  # the true minus sign: every page writes negative amounts with it


def money_format(amount: Decimal, code: str) -> str:
    """`1,234.50 EUR`, `120,000 JPY`, `\u22124.37 EUR`: grouped, at the currency's minor unit
    (half-up), a negative amount with the minus sign (U+2212) on every page alike."""
    places = minor_units(code)
    rounded = quantize(amount, code, ROUND_HALF_UP)
    text = f"{abs(rounded):,.{places}f} {code}"
    return f"{MINUS}{text}" if rounded < 0 else text
