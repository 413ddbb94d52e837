"""Which day's rate a report uses, named and shown on every page that converts.

The three policies are hledger's `--value=then|end|now`: the rate of each figure's own
date, of the period's last day, or of today.
"""

from dataclasses import dataclass
from datetime import date

from django.db import models
from django.utils import timezone

from treasury.fx.convert import DEFAULT_WINDOW_DAYS, SOURCE_PIVOT
from treasury.fx.models import Source


class RateDatePolicy(models.TextChoices):
    TRANSACTION_DATE = "then", "Transaction date"
    PERIOD_END = "end", "Period end"
    TODAY = "now", "Today"

    @classmethod
    def parse(cls, value: object, default: "RateDatePolicy") -> "RateDatePolicy":
        """The policy named by a query parameter ('then', 'end', 'now'), else `default`."""
        return cls(value) if value in cls.values else default


def rate_date_for(
    policy: RateDatePolicy, *, transaction_date: date | None = None,
    period_end: date | None = None, today: date | None = None,
) -> date:  # fmt: skip
    """The date whose rate converts a figure under `policy`."""
    if policy == RateDatePolicy.TRANSACTION_DATE:
        if transaction_date is None:
            raise ValueError("The transaction-date policy needs the figure's date")
        return transaction_date
    if policy == RateDatePolicy.PERIOD_END:
        if period_end is None:
            raise ValueError("The period-end policy needs the period's last day")
        return period_end
    return today or timezone.localdate()


SOURCE_DIRECTION = {
    Source.ECB: "euro reference rates, foreign units per 1 EUR, published on TARGET days",
    Source.TREASURY: "Treasury reporting rates, foreign units per 1 USD, set quarterly",
    Source.WISE: "Wise mid-market rates",
    Source.MANUAL: "the owner's override rates",
}

POLICY_SENTENCE = {
    RateDatePolicy.TRANSACTION_DATE: "each figure converts at the rate of its own date",
    RateDatePolicy.PERIOD_END: "every figure converts at the rate of the period's last day",
    RateDatePolicy.TODAY: "every figure converts at today's rate",
}


@dataclass(frozen=True)
class PolicyNote:
    """What `templates/fx/_policy_note.html` states under a converted figure."""

    policy: RateDatePolicy
    source: str
    window_days: int
    rate_date: date | None = None

    @property
    def source_label(self) -> str:
        return Source(self.source).label

    @property
    def text(self) -> str:
        pivot = SOURCE_PIVOT.get(self.source)
        via = f"; other pairs cross through {pivot}" if pivot else ""
        when = f" ({self.rate_date:%Y-%m-%d})" if self.rate_date else ""
        return (
            f"Rates: {SOURCE_DIRECTION[Source(self.source)]}{via}. "
            f"Rate date: {self.policy.label.lower()}{when}, {POLICY_SENTENCE[self.policy]}, "
            f"using the latest rate at most {self.window_days} days older; owner overrides "
            f"win when newer. A figure with no rate in that window shows as missing, never "
            f"as a guess."
        )


def policy_note(
    policy: RateDatePolicy, *, source: str = Source.ECB, window_days: int | None = None,
    rate_date: date | None = None,
) -> PolicyNote:  # fmt: skip
    window = DEFAULT_WINDOW_DAYS[source] if window_days is None else window_days
    return PolicyNote(policy=policy, source=source, window_days=window, rate_date=rate_date)
