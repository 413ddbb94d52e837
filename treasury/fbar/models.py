"""FBAR and Form 8938: the owner's settings, what FinCEN 114 needs of an account beyond
`accounts.CashAccount`, the monitor's daily result, and the alerts it has sent.

Balances stay in `accounts` (daily balances, and `BalanceSnapshot` rows with source
MANUAL for month-end figures entered by hand); nothing here duplicates them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import CashAccount
from treasury.fbar.thresholds import ALERT_PERCENTS, FilingStatus, Residence

MANUAL_SOURCE = "MANUAL"  # BalanceSnapshot.source of a balance entered on the FBAR pages


class FbarSettings(models.Model):
    """The owner's answers that decide which rules apply. One row (pk 1)."""

    is_us_person = models.BooleanField(
        default=True,
        help_text="U.S. citizens, residents, and domestic entities file FBARs; others do not.",
    )
    filing_status = models.CharField(
        max_length=6, choices=FilingStatus.CHOICES, default=FilingStatus.SINGLE
    )
    residence = models.CharField(max_length=6, choices=Residence.CHOICES, default=Residence.US)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        verbose_name = "FBAR settings"
        verbose_name_plural = "FBAR settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="fbar_settings_single_row"),
        ]

    def __str__(self) -> str:
        person = "U.S. person" if self.is_us_person else "not a U.S. person"
        return f"{person}, {self.get_filing_status_display()}, {self.get_residence_display()}"


class FbarAccount(models.Model):
    """What FinCEN 114 asks of an account that `CashAccount` does not hold."""

    class AccountType(models.TextChoices):
        BANK = "BANK", "Bank"
        SECURITIES = "SECURITIES", "Securities"
        OTHER = "OTHER", "Other"

    account = models.OneToOneField(
        CashAccount, on_delete=models.CASCADE, related_name="fbar_details", primary_key=True
    )
    account_type = models.CharField(
        max_length=10, choices=AccountType.choices, default=AccountType.BANK
    )
    added_here = models.BooleanField(
        default=False, help_text="Added by hand on the FBAR pages (balances by hand or file)."
    )
    # When the owner last decided the foreign-account flag; empty: never decided.
    flag_decided_at = models.DateTimeField(null=True, blank=True)
    flag_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        verbose_name = "FBAR account details"
        verbose_name_plural = "FBAR account details"

    def __str__(self) -> str:
        return f"{self.account_id}: {self.get_account_type_display()}"


class MonitorState(models.Model):
    """The monitor's latest result for a year, computed daily (and after syncs), so the
    dashboard reads one row instead of recomputing a year on every page view."""

    year = models.PositiveSmallIntegerField(unique=True)
    computed_at = models.DateTimeField()
    as_of = models.DateField(help_text="Balances up to this day.")
    is_estimate = models.BooleanField(help_text="Priced at the latest rates, not Dec 31's.")
    is_complete = models.BooleanField(help_text="Every account had a rate.")
    is_us_person = models.BooleanField(default=True)
    aggregate_usd = models.BigIntegerField()
    percent_reached = models.PositiveSmallIntegerField(null=True, blank=True)
    warned_on = models.DateField(null=True, blank=True, help_text="Aggregate first ≥ 80%.")
    crossed_on = models.DateField(null=True, blank=True, help_text="Aggregate first > 100%.")
    filing_required = models.BooleanField()
    form_8938_required = models.BooleanField()
    form_8938_status = models.CharField(
        max_length=20, default="not required", help_text="required, not required, undetermined…"
    )
    accounts = models.PositiveIntegerField(help_text="Foreign accounts counted.")
    missing_rates = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"FBAR {self.year}: ${self.aggregate_usd:,} on {self.as_of:%Y-%m-%d}"


class FbarFiling(models.Model):
    """The owner's record that a year's FinCEN 114 was filed, and when: the page and the
    dashboard stop asking for it once it is recorded."""

    year = models.PositiveSmallIntegerField(unique=True)
    filed_on = models.DateField()
    reference = models.CharField(
        max_length=100, blank=True, help_text="BSA E-Filing confirmation or tracking number."
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["-year"]
        verbose_name = "FBAR filing"

    def __str__(self) -> str:
        return f"FBAR {self.year} filed {self.filed_on:%Y-%m-%d}"


class ThresholdAlert(models.Model):
    """One alert per (year, threshold), claimed by inserting this row: the unique key lets
    one monitor send it, however many run at once. A failed send is retried by a later
    run; a claim left SENDING by a crash is taken over after `STALE_AFTER`."""

    class Status(models.TextChoices):
        SENDING = "SENDING", "Sending"
        SENT = "SENT", "Sent"
        FAILED = "FAILED", "Failed"

    year = models.PositiveSmallIntegerField()
    percent = models.PositiveSmallIntegerField(choices=[(p, f"{p}%") for p in ALERT_PERCENTS])
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.SENDING)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    aggregate_usd = models.BigIntegerField()
    reached_on = models.DateField(help_text="The day the aggregate reached the threshold.")
    recipients = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-year", "-percent"]
        constraints = [
            models.UniqueConstraint(fields=["year", "percent"], name="fbar_alert_once_per_year"),
            models.CheckConstraint(
                condition=Q(percent__in=ALERT_PERCENTS), name="fbar_alert_known_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"FBAR {self.year} {self.percent}% {self.get_status_display()}"
