"""Reconciliation tolerances: Django settings, each with a default.

- `RECONCILE_DATE_WINDOW_DAYS` (2): how many days apart a Wise line and a Xero entry may
  be dated and still be paired by amount, or split, or batched. A pair found by key or
  reference whose dates are further apart is reported as "date beyond the window".
- `RECONCILE_NEAR_MISS_DAYS` (7): lines and entries left over with exactly the same amount
  up to this many days apart are paired anyway and reported as "date beyond the window"
  (one mismatch side by side instead of "missing in Xero" plus "missing in Wise").
- `RECONCILE_AMOUNT_TOLERANCE_MINOR` (0): how many minor units two amounts may differ and
  still be paired by amount within the window. The difference is still reported ("amount
  differs"): the tolerance only helps find the counterpart.
- `RECONCILE_GRACE_HOURS` (6): a Wise line stored, or a Xero entry changed, less than
  this long ago is not reported missing yet. Wise's own Xero feed syncs every 4 hours and
  Bulwark posts every 15 minutes, so a new line is not in Xero at once. A line must also
  have been stored before the last read-back from Xero, which is what could have seen it.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Tolerances:
    window_days: int = 2
    near_miss_days: int = 7
    amount_minor: int = 0
    grace_hours: int = 6


def tolerances() -> Tolerances:
    defaults = Tolerances()
    return Tolerances(
        window_days=int(getattr(settings, "RECONCILE_DATE_WINDOW_DAYS", defaults.window_days)),
        near_miss_days=int(getattr(settings, "RECONCILE_NEAR_MISS_DAYS", defaults.near_miss_days)),
        amount_minor=int(
            getattr(settings, "RECONCILE_AMOUNT_TOLERANCE_MINOR", defaults.amount_minor)
        ),
        grace_hours=int(getattr(settings, "RECONCILE_GRACE_HOURS", defaults.grace_hours)),
    )
