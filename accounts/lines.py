"""The normalised statement line every source produces (Wise API, CSV, CAMT.053, MT940),
and the natural key that makes the same line from two sources one line."""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

# Wise's `details.type` values (wise.md §4): a line's `wise_type`, whatever its source.
WISE_TYPES = (
    "CARD",
    "CONVERSION",
    "DEPOSIT",
    "TRANSFER",
    "MONEY_ADDED",
    "INCOMING_CROSS_BALANCE",
    "OUTGOING_CROSS_BALANCE",
    "DIRECT_DEBIT",
    "BALANCE_INTEREST",
    "BALANCE_ADJUSTMENT",
    "ACCRUAL_CHARGE",
    "CARD_CASHBACK",
    "ACQUIRING_PAYMENT",
    "INVESTMENT_TRADE_ORDER",
    "CARD_ORDER_CHECKOUT",
    "UNKNOWN",
)


# The longest text a stored line keeps in each field. Longer text is refused, never cut:
# the record keeps what the bank said or nothing. A SWIFT `:86:` holds 6 x 65 characters
# and CAMT's `AddtlNtryInf` 500; German purposes run to fourteen 27-character parts;
# 10,000 leaves room for banks that write far more without letting a file (or a sync)
# fill the record. The others are the stored columns' sizes.
TEXT_LIMITS = {
    "description": 10_000,
    "counterparty": 300,
    "reference_number": 100,
    "payment_reference": 300,
    "wise_type": 40,
}


class StatementLineError(ValueError):
    """A line that cannot be stored; names the line (and column, where the source has
    them, e.g. XML) so the user can find it."""

    def __init__(self, line_no: int | None, message: str, *, column: int | None = None) -> None:
        self.line_no = line_no
        self.column = column
        self.reason = message
        text = message if line_no is None else f"{position_text(line_no, column)}: {message}"
        super().__init__(text)


def position_text(line_no: int | None, column: int | None = None) -> str:
    """`Line 12` or `Line 1, column 4,031`."""
    if column is None:
        return f"Line {line_no}"
    return f"Line {line_no}, column {column:,}"


@dataclass(frozen=True)
class StatementLine:
    booked_at: datetime
    amount: Decimal  # signed: what moved the balance (for Wise, fees are inside it)
    currency: str
    fee: Decimal = Decimal(0)
    wise_type: str = "UNKNOWN"
    description: str = ""
    counterparty: str = ""
    reference_number: str = ""
    payment_reference: str = ""
    running_balance: Decimal | None = None
    counter_currency: str = ""
    counter_amount: Decimal | None = None
    fx_rate: Decimal | None = None
    direction: str | None = None  # CREDIT/DEBIT; from the sign when None
    raw: Mapping[str, Any] = field(default_factory=dict)
    # Set by a source without reference numbers, to keep same-day same-amount lines apart.
    key_discriminator: str = ""
    # The amount leaves out `fee`, which a `FEE-<reference>` line of its own carries (Wise's
    # FLAT layout): the line keys on the amount with the fee, as the API reports it.
    fee_outside: bool = False
    # `raw` as canonical JSON (`accounts.trail.raw_json`), when the source made it already.
    raw_text: str = ""
    line_no: int | None = None  # position in the source, for error messages
    column: int | None = None  # and the column, where lines alone do not say (XML)

    @property
    def booked_on(self) -> date:
        return self.booked_at.astimezone(UTC).date()

    @property
    def resolved_direction(self) -> str:
        if self.direction:
            return self.direction
        return "DEBIT" if self.amount < 0 else "CREDIT"


def natural_key(*, reference_number: str, direction: str, booked_on: date, amount_minor: int,
                discriminator: str = "") -> str:  # fmt: skip
    """`<reference>|<C/D>|<yyyymmdd>|<amount in minor units>[|<discriminator>]`.

    Reference numbers alone are not unique (a refund reuses its transfer's, fee lines share
    their payment's), so direction, day and amount join them. Every source builds its key
    here, which is what lets a file overlap an API sync without storing a line twice.
    """
    reference = reference_number.strip() or "-"
    key = f"{reference}|{direction[:1]}|{booked_on:%Y%m%d}|{amount_minor}"
    return f"{key}|{discriminator}" if discriminator else key


def discriminator_for(description: str, occurrence: int) -> str:
    """For sources without references: the description's hash and its occurrence that day."""
    digest = hashlib.sha256(description.strip().lower().encode()).hexdigest()[:10]
    return f"{digest}.{occurrence}"
