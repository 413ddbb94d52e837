"""How precise a stored rate may be (see `models.Rate` for why), checked before storing."""

from decimal import Decimal

RATE_MAX_DIGITS = 24
RATE_DECIMAL_PLACES = 12
RATE_SIGNIFICANT_DIGITS = 15


class RateInvalid(ValueError):
    """A rate Bulwark will not store: not positive, not finite, or too precise."""


def rate_validate(value: object) -> Decimal:
    """The rate as a Decimal, or RateInvalid naming what is wrong with it."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RateInvalid(f"Rate {value!r} is not a finite Decimal")
    if value <= 0:
        raise RateInvalid(f"Rate {value} is not positive")
    digits = value.normalize().as_tuple()
    if len(digits.digits) > RATE_SIGNIFICANT_DIGITS:
        raise RateInvalid(
            f"Rate {value} has more than {RATE_SIGNIFICANT_DIGITS} significant digits"
        )
    if isinstance(digits.exponent, int) and digits.exponent < -RATE_DECIMAL_PLACES:
        raise RateInvalid(f"Rate {value} has more than {RATE_DECIMAL_PLACES} decimal places")
    if value.adjusted() >= RATE_MAX_DIGITS - RATE_DECIMAL_PLACES:
        raise RateInvalid(f"Rate {value} is too large")
    return value
