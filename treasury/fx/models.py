"""Exchange rates as their sources published them, and the owner's audited overrides.

A `Rate` says: on `date`, 1 `base` was worth `rate` units of `quote`, per `source`. Rows
are stored in the direction the source quotes (ECB: foreign per EUR; Treasury: foreign
per USD); inverses and cross rates are computed at conversion time at full precision,
never stored.

Precision: `rate` is a DecimalField(24, 12). PostgreSQL keeps it exactly. SQLite has no
decimal type and keeps a REAL, which holds 15 significant digits, and Django reads it
back through a 15-digit context, so any rate of at most 15 significant digits
round-trips exactly. `precision.rate_validate` refuses anything finer, so both databases hold the
same numbers. Published rates carry 4-6 significant digits (ECB), 3-4 (Treasury) or
about 6 (Wise); 12 decimal places leave room for tiny exotic cross quotes and 12
integer digits for currencies like the old Turkish lira (1.7 million per euro).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from treasury.fx.precision import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS


class Source(models.TextChoices):
    ECB = "ECB", "ECB reference rates"
    TREASURY = "TREASURY", "U.S. Treasury reporting rates"
    WISE = "WISE", "Wise mid-market"
    MANUAL = "MANUAL", "Owner override"


class Rate(models.Model):
    source = models.CharField(max_length=10, choices=Source.choices)
    base = models.CharField(max_length=3, help_text="1 unit of this currency…")
    quote = models.CharField(max_length=3, help_text="…is worth `rate` units of this one.")
    date = models.DateField(
        help_text=(
            "ECB: reference date. Treasury: effective date. Wise: UTC day of the quote. "
            "Override: the date from which the owner's rate applies."
        )
    )
    rate = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES)
    record_date = models.DateField(
        null=True, blank=True, help_text="Treasury: the quarterly report (record date)."
    )
    source_key = models.CharField(
        max_length=80, blank=True, help_text="Treasury: the country_currency_desc text."
    )
    observed_at = models.DateTimeField(null=True, blank=True, help_text="Wise: quote time.")
    fetched_at = models.DateTimeField(default=timezone.now)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Override: who set it.",
    )
    reason = models.TextField(blank=True, help_text="Override: why.")

    class Meta:
        ordering = ["source", "base", "quote", "-date"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "base", "quote", "date"], name="fx_rate_unique_per_day"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive"),
            models.CheckConstraint(
                condition=~Q(base=models.F("quote")), name="fx_rate_two_currencies"
            ),
            models.CheckConstraint(
                condition=Q(base__regex=r"^[A-Z]{3}$") & Q(quote__regex=r"^[A-Z]{3}$"),
                name="fx_rate_iso_codes",
            ),
            models.CheckConstraint(
                condition=Q(source__in=Source.values), name="fx_rate_source_known"
            ),
            models.CheckConstraint(
                condition=~Q(source=Source.ECB) | Q(base="EUR"), name="fx_rate_ecb_per_eur"
            ),
            models.CheckConstraint(
                condition=~Q(source=Source.TREASURY) | Q(base="USD", record_date__isnull=False),
                name="fx_rate_treasury_per_usd_with_report",
            ),
            models.CheckConstraint(
                condition=~Q(source=Source.MANUAL) | (Q(entered_by__isnull=False) & ~Q(reason="")),
                name="fx_rate_override_audited",
            ),
        ]
        indexes = [models.Index(fields=["source", "-date"], name="fx_rate_source_recent")]

    def __str__(self) -> str:
        return f"{self.source} {self.date}: 1 {self.base} = {self.rate.normalize():f} {self.quote}"


class OverrideLog(models.Model):
    """Every change to an owner override, kept after the override itself is replaced or
    removed: who, when, why, and the value before and after."""

    class Action(models.TextChoices):
        SET = "SET", "Set"
        REMOVE = "REMOVE", "Removed"

    action = models.CharField(max_length=6, choices=Action.choices)
    base = models.CharField(max_length=3)
    quote = models.CharField(max_length=3)
    date = models.DateField()
    old_rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, null=True, blank=True
    )
    new_rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, null=True, blank=True
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="fx_overridelog_reason_given"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.base}/{self.quote} {self.date} by {self.user}"
