"""The archive: documents filed by function, subject and date, stored once by content and
chained so that any removal or change is detected.

- `StoredFile`: one content, kept once in Django's default storage under its SHA-256
  (`archive/sha256/ab/abcdef….pdf`); two documents with the same bytes share it.
- `Document`: one filed thing (a month's Wise statement as PDF, its CAMT.053 twin, a
  receipt), named by the layout template (`layout.py`) from its function, subject, kind
  and the date it is about. Unfiled uploads wait in the inbox (`status=INBOX`).
- `Version`: a document's content at a time. Never overwritten: a corrected document is a
  new version that names the one it replaces.
- `Entry`: the archive's hash chain, one entry per version filed or path moved; each
  digest covers its content and the previous digest (`chain.py`). `ChainHead` holds the
  head and length at the last append, so a removed last entry is noticed too.
- `StatementProof`: what a filed statement says of its account and month (opening and
  closing, from its machine-readable twin) against Bulwark's record of them.
- `BooksAttachment`: a filed statement attached to its bank account in the books, once
  per content.
- `FilingRule` and `RetentionPolicy`: the owner's rules for uploads, and how long each
  function's documents must be kept.

Amounts are integer minor units, as everywhere.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import CashAccount


class Function(models.TextChoices):
    """What a document is for: the first folder of its path."""

    BANKING = "Banking", "Banking"
    TAX = "Tax", "Tax"
    BOOKS = "Books", "Books"
    SALES = "Sales", "Sales"
    PURCHASES = "Purchases", "Purchases"
    OTHER = "Other", "Other"


class StoredFile(models.Model):
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    storage_name = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="storedfile_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.size} bytes)"


class Document(models.Model):
    class Status(models.TextChoices):
        FILED = "FILED", "Filed"
        INBOX = "INBOX", "In the inbox"

    status = models.CharField(max_length=5, choices=Status.choices, default=Status.FILED)
    function = models.CharField(max_length=10, choices=Function.choices, blank=True)
    subject = models.CharField(
        max_length=120, blank=True, help_text="Folders after the function, e.g. Wise/EUR."
    )
    kind = models.CharField(max_length=40, blank=True, help_text="statement, receipt, …")
    label = models.CharField(max_length=80, blank=True, help_text="e.g. wise-eur.")
    about_on = models.DateField(null=True, blank=True, help_text="The date it is about.")
    period = models.CharField(max_length=10, blank=True, help_text="2026-11, 2025, or empty.")
    extension = models.CharField(max_length=10)
    path = models.CharField(max_length=400, unique=True)
    account = models.ForeignKey(
        CashAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    sender = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True, help_text="What filing rules read (a PDF's text).")
    rule = models.ForeignKey(
        "FilingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["path"]
        indexes = [models.Index(fields=["account", "kind", "period"], name="document_account")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="INBOX") | (~Q(function="") & Q(about_on__isnull=False)),
                name="document_filed_has_function_and_date",
            ),
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class Version(models.Model):
    class Source(models.TextChoices):
        WISE = "WISE", "Fetched from Wise"
        UPLOAD = "UPLOAD", "Uploaded"
        GENERATED = "GENERATED", "Made by Bulwark"

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    file = models.ForeignKey(StoredFile, on_delete=models.PROTECT, related_name="versions")
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    reason = models.CharField(max_length=300, blank=True)
    filed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="version_unique_number"),
            models.CheckConstraint(
                condition=Q(number=1, replaces__isnull=True)
                | Q(number__gt=1, replaces__isnull=False),
                name="version_replaces_previous",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"


class Entry(models.Model):
    """One link of the archive's chain (see `archive.chain`)."""

    class Action(models.TextChoices):
        FILED = "FILED", "Filed"
        MOVED = "MOVED", "Moved by a layout change"

    seq = models.PositiveIntegerField(unique=True)
    action = models.CharField(max_length=5, choices=Action.choices)
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="entries")
    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="entries")
    path = models.CharField(max_length=400)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    prev_digest = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.path}"


class ChainHead(models.Model):
    """The one row holding the chain's head; appends lock it, so entries never race."""

    head = models.CharField(max_length=64, blank=True)
    length = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.length} entries, head {self.head[:12]}"


class Layout(models.Model):
    """The one row holding the owner's layout template (`archive.layout`)."""

    template = models.CharField(max_length=300)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.template


class StatementProof(models.Model):
    """A filed statement of an account and month against Bulwark's record of them."""

    class Status(models.TextChoices):
        AGREES = "AGREES", "Agrees with the record"
        DIFFERS = "DIFFERS", "Differs from the record"
        UNREADABLE = "UNREADABLE", "Could not be read"

    account = models.ForeignKey(CashAccount, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="proofs")
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    currency = models.CharField(max_length=3)
    stated_opening_minor = models.BigIntegerField(null=True, blank=True)
    stated_closing_minor = models.BigIntegerField(null=True, blank=True)
    record_opening_minor = models.BigIntegerField()
    record_closing_minor = models.BigIntegerField()
    detail = models.CharField(max_length=300, blank=True)
    mismatch = models.ForeignKey(
        "reconciliation.Mismatch", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    proved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "month"]
        constraints = [
            models.UniqueConstraint(fields=["account", "month"], name="proof_unique_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="proof_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m} {self.status}"


class BooksAttachment(models.Model):
    """A filed version attached to a bank account of the books, recorded by its SHA-256:
    the same content is attached to the same account once."""

    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="attachments")
    organisation = models.ForeignKey(
        "ledger.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    chart_account = models.ForeignKey("ledger.ChartAccount", on_delete=models.CASCADE,
                                      related_name="+")  # fmt: skip
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=255)
    remote_id = models.CharField(max_length=64, help_text="The books' id of the attachment.")
    attached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "chart_account", "sha256"], name="attachment_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} → {self.chart_account_id}"


class FilingRule(models.Model):
    """Gives an uploaded document its function, subject, kind and date when every pattern
    it sets matches (regular expressions, case-insensitive); the first rule by `order`
    that matches files it."""

    order = models.PositiveIntegerField(default=100)
    name = models.CharField(max_length=100)
    text_pattern = models.CharField(max_length=200, blank=True)
    sender_pattern = models.CharField(max_length=200, blank=True)
    amount_pattern = models.CharField(max_length=200, blank=True)
    date_pattern = models.CharField(
        max_length=200, blank=True,
        help_text="Finds the date the document is about; its first group, ISO or DD.MM.YYYY.",
    )  # fmt: skip
    function = models.CharField(max_length=10, choices=Function.choices)
    subject = models.CharField(max_length=120)
    kind = models.CharField(max_length=40)
    label = models.CharField(max_length=80, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.name


class RetentionPolicy(models.Model):
    """How long documents must be kept, in years after the end of the year they are
    about. `scope` is a function (`Tax`) or a function and subject (`Tax/FBAR`); the
    longest scope that covers a document's path counts. The archive says what may be
    discarded; it never discards on its own."""

    scope = models.CharField(max_length=120, unique=True)
    years = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["scope"]
        verbose_name_plural = "retention policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(years__gte=1) & Q(years__lte=100), name="retention_years_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}: {self.years} years"
