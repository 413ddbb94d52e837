"""Reconciliation: which Wise lines and Xero entries belong together (`Match`), what
does not agree (`Mismatch`, the queue the owner works through in the admin, with its
`MismatchEvent` history), and each day's balance comparison (`BalanceCheck`).

A match is identified by its `signature`, the sorted ids of its members
(`t<line>,…|e<entry>,…`): a rerun that finds the same pairing keeps the same row. A
mismatch is identified by its `natural_key` (type and subject), so a rerun that sees the
same difference touches the same row; `fingerprint` is the difference itself (an amount
delta, a day count), so a resolved or ignored mismatch reopens only when it changes.
Amounts are integer minor units, as everywhere.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import CashAccount, Transaction
from ledger.models import ChartAccount, LedgerEntry, Organisation
from treasury.money import from_minor


class Match(models.Model):
    """Wise lines and Xero entries that are the same money, with why we think so."""

    class Method(models.TextChoices):
        KEY = "KEY", "Bulwark's posting key"
        REFERENCE = "REFERENCE", "Wise reference"
        AMOUNT_DATE = "AMOUNT_DATE", "Amount and date"
        ONE_TO_MANY = "ONE_TO_MANY", "One line, several entries"
        MANY_TO_ONE = "MANY_TO_ONE", "Several lines, one entry"
        MANUAL = "MANUAL", "Linked by hand"

    # Single-column indexes left out where a composite one below covers the lookups: a
    # first run inserts 100,000 matches and every index costs on each.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="reconciliation_matches",
        db_index=False,
    )
    method = models.CharField(max_length=12, choices=Method.choices)
    signature = models.CharField(max_length=255, help_text="t<line ids>|e<entry ids>")
    score = models.PositiveSmallIntegerField(help_text="0 to 100; the factors say why.")
    factors = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    fingerprint = models.CharField(max_length=16, blank=True)
    account = models.ForeignKey(
        CashAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    day = models.DateField(help_text="The earliest date among its lines and entries.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    undone_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-day", "-id"]
        verbose_name_plural = "matches"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "signature"],
                condition=Q(undone_at__isnull=True),
                name="match_unique_active_signature",
            ),
            models.CheckConstraint(condition=Q(score__lte=100), name="match_score_range"),
        ]
        indexes = [
            models.Index(fields=["organisation", "undone_at"], name="match_active"),
            models.Index(fields=["account", "day"], name="match_account_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.signature}"

    @property
    def is_active(self) -> bool:
        return self.undone_at is None


class MatchItem(models.Model):
    """One member of an active match: a Wise line or a Xero entry (a line or an entry
    is in at most one active match; an undone match keeps its members in `signature`)."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="items")
    # Looked up through the partial unique indexes below; no second index each.
    transaction = models.ForeignKey(
        Transaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    entry = models.ForeignKey(
        LedgerEntry,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["transaction"],
                condition=Q(transaction__isnull=False),
                name="matchitem_unique_line",
            ),
            models.UniqueConstraint(
                fields=["entry"], condition=Q(entry__isnull=False), name="matchitem_unique_entry"
            ),
            models.CheckConstraint(
                condition=Q(transaction__isnull=True, entry__isnull=False)
                | Q(transaction__isnull=False, entry__isnull=True),
                name="matchitem_one_side",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.match_id}: t{self.transaction_id}"
            if self.transaction_id
            else f"e{self.entry_id}"
        )


class Mismatch(models.Model):
    """One difference between Wise and Xero, in the owner's queue until it is gone or
    ignored with a reason."""

    class Type(models.TextChoices):
        MISSING_IN_XERO = "MISSING_IN_XERO", "Missing in Xero"
        MISSING_IN_WISE = "MISSING_IN_WISE", "Missing in Wise"
        AMOUNT_DIFFERS = "AMOUNT_DIFFERS", "Amount differs"
        DATE_BEYOND_WINDOW = "DATE_BEYOND_WINDOW", "Date beyond the window"
        DUPLICATE_IN_XERO = "DUPLICATE_IN_XERO", "Duplicate in Xero"
        CURRENCY_DIFFERS = "CURRENCY_DIFFERS", "Currency differs"
        BALANCE_DIFFERS = "BALANCE_DIFFERS", "Balance differs"
        # Opened by the archive (a filed statement against Bulwark's record), not by
        # reconciliation, which leaves these alone (FILED_TYPES).
        STATEMENT_DIFFERS = "STATEMENT_DIFFERS", "Filed statement differs"

    class Status(models.TextChoices):
        OPEN = "OPEN", "Open"
        RESOLVED = "RESOLVED", "Resolved"
        IGNORED = "IGNORED", "Ignored"

    class Resolution(models.TextChoices):
        NONE = "", "—"
        RECONCILED = "RECONCILED", "Resolved by reconciliation: the difference is gone"
        LINKED = "LINKED", "Linked by hand"

    class Side(models.TextChoices):
        """Which side the owner says is right, when accepting a difference."""

        NONE = "", "—"
        WISE = "WISE", "Wise is right (Xero is to be corrected there)"
        XERO = "XERO", "Xero is right (the books keep their figure)"

    # A difference Bulwark can correct in Xero from the Wise line, or the owner accepts.
    CORRECTABLE = ("AMOUNT_DIFFERS", "DATE_BEYOND_WINDOW")
    # Differences another part of Bulwark finds and keeps (see Type).
    FILED_TYPES = ("STATEMENT_DIFFERS",)

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="mismatches"
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    natural_key = models.CharField(max_length=255, help_text="Type and subject.")
    fingerprint = models.CharField(max_length=100, blank=True, help_text="The difference.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(
        max_length=10, choices=Resolution.choices, default=Resolution.NONE, blank=True
    )
    ignore_reason = models.TextField(blank=True)
    accepted_side = models.CharField(
        max_length=4, choices=Side.choices, default=Side.NONE, blank=True,
        help_text="Set when the owner accepted the difference: which side is right.",
    )  # fmt: skip
    account = models.ForeignKey(
        CashAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="mismatches"
    )
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entry = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    match = models.ForeignKey(
        Match, null=True, blank=True, on_delete=models.SET_NULL, related_name="mismatches"
    )
    day = models.DateField(help_text="The date of the difference (its earliest line or entry).")
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name_plural = "mismatches"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "natural_key"], name="mismatch_unique_subject"
            ),
            models.CheckConstraint(
                condition=~Q(status="IGNORED") | ~Q(ignore_reason=""),
                name="mismatch_ignored_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "type"], name="mismatch_status_type"),
            models.Index(fields=["account", "status", "day"], name="mismatch_account_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} · {self.summary or self.natural_key}"

    @property
    def is_correctable(self) -> bool:
        return self.type in self.CORRECTABLE

    @property
    def status_label(self) -> str:
        """`Open`, `Ignored`, `Accepted · Xero is right`, `Resolved`."""
        if self.status == self.Status.IGNORED and self.accepted_side:
            side = "Wise" if self.accepted_side == self.Side.WISE else "Xero"
            return f"Accepted · {side} is right"
        return self.get_status_display()

    @property
    def amount(self) -> Decimal | None:
        if self.amount_minor is None or not self.currency:
            return None
        return from_minor(self.amount_minor, self.currency)


class MismatchEvent(models.Model):
    """Who did what to a mismatch, and when (`actor` empty: reconciliation itself)."""

    class Action(models.TextChoices):
        OPENED = "OPENED", "Found"
        CHANGED = "CHANGED", "Difference changed"
        REOPENED = "REOPENED", "Reopened"
        RESOLVED = "RESOLVED", "Resolved"
        IGNORED = "IGNORED", "Ignored"
        LINKED = "LINKED", "Linked by hand"
        POSTED = "POSTED", "Posted to Xero"
        POST_FAILED = "POST_FAILED", "Posting to Xero failed"
        UNLINKED = "UNLINKED", "Match undone"
        ACCEPTED = "ACCEPTED", "Accepted"
        CORRECTED = "CORRECTED", "Xero entry updated from the Wise line"
        FIX_FAILED = "FIX_FAILED", "Updating the Xero entry failed"

    mismatch = models.ForeignKey(Mismatch, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    note = models.TextField(blank=True)
    detail = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}"

    @property
    def actor_label(self) -> str:
        return str(self.actor) if self.actor_id else "Reconciliation"


class BalanceCheck(models.Model):
    """Xero's balance of a bank account on a day (Bank Summary) against Wise's balance of
    the cash account(s) mapped to it at the moment Xero's figure was read."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="balance_checks"
    )
    account = models.ForeignKey(CashAccount, on_delete=models.CASCADE, related_name="+")
    chart_account = models.ForeignKey(ChartAccount, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    books_minor = models.BigIntegerField()
    wise_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    books_read_at = models.DateTimeField()
    mismatch = models.ForeignKey(
        Mismatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="balance_checks"
    )
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "account", "day"], name="balancecheck_unique_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} xero {self.books_minor} wise {self.wise_minor}"

    @property
    def agrees(self) -> bool:
        return self.books_minor == self.wise_minor

    @property
    def xero(self) -> Decimal:
        return from_minor(self.books_minor, self.currency)

    @property
    def wise(self) -> Decimal:
        return from_minor(self.wise_minor, self.currency)

    @property
    def difference(self) -> Decimal:
        return from_minor(self.books_minor - self.wise_minor, self.currency)


class ReconcileLease(models.Model):
    """One reconciliation at a time per organisation. A run that finds the lease held
    asks the holder to go round once more (`rerun`) instead of waiting."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="reconcile_lease"
    )
    until = models.DateTimeField(null=True, blank=True)
    rerun = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.organisation_id} until {self.until}"
