"""How each stored line is booked: its categorization, set by rules or by hand."""

from django.db import models
from django.utils import timezone


class Categorization(models.Model):
    """The booking decision for one transaction line (one row per line at most).

    Rules fill the fields; a field the owner set by hand is listed in `locked_fields`
    and rules leave it alone until it is unlocked. `provenance` says, per field, which
    rule (or person) set it and when: `{"account_code": {"rule": 3, "name": "...",
    "at": "2026-05-01T10:00:00Z"}}`.
    """

    class Treatment(models.TextChoices):
        NORMAL = "NORMAL", "Income or expense"
        FEE = "FEE", "Bank fee"
        TRANSFER = "TRANSFER", "Transfer between own balances"
        EXCLUDE = "EXCLUDE", "Excluded from the books"

    transaction = models.OneToOneField(
        "accounts.Transaction", on_delete=models.PROTECT, related_name="categorization"
    )
    treatment = models.CharField(max_length=10, choices=Treatment.choices, default=Treatment.NORMAL)
    account_code = models.CharField(max_length=20, blank=True, help_text="Xero account code.")
    tax_type = models.CharField(max_length=50, blank=True)
    contact_name = models.CharField(max_length=255, blank=True)
    tracking = models.JSONField(default=list, blank=True, help_text='[{"name":…, "option":…}]')
    provenance = models.JSONField(default=dict, blank=True)
    locked_fields = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["treatment", "account_code"], name="categ_treatment_code")]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.treatment} {self.account_code}"
