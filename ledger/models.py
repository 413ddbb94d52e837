"""The books side, provider-neutral: the connected books (an organisation of one provider,
Xero or QuickBooks Online) Bulwark keeps in step, its connection (tokens encrypted at
rest), the chart of accounts, the mapping of cash accounts to the books' bank accounts, one
posting record per stored line, and what was read back (ledger entries, bank balances and
the cursors of the read-back).

Which provider's adapter speaks to the books is chosen from `Organisation.provider`
(`ledger.books.adapter_for`); nothing here knows a provider's API.

Amounts are integer minor units of the row's currency, as in `accounts`.
"""

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from treasury.crypto import EncryptedTextField
from treasury.fields import ExactDecimalField
from treasury.money import from_minor

POSTING_PREFIX = "bulwark:"


class Organisation(models.Model):
    """The connected books: one organisation of one provider (a Xero tenant, a QuickBooks
    realm), its settings as read, Bulwark's mode and the accounts postings use, and the
    state of the provider's API budget."""

    class Provider(models.TextChoices):
        XERO = "xero", "Xero"
        QUICKBOOKS = "quickbooks", "QuickBooks Online"

    class Mode(models.TextChoices):
        AUDIT_ONLY = "AUDIT_ONLY", "Audit only"
        POSTS = "POSTS", "Bulwark posts"

    provider = models.CharField(max_length=12, choices=Provider.choices, default=Provider.XERO)
    tenant_id = models.CharField(
        max_length=64, unique=True, help_text="The provider's id of the books: tenant or realm."
    )
    name = models.CharField(max_length=255)
    base_currency = models.CharField(max_length=3, blank=True)
    multicurrency_allowed = models.BooleanField(null=True)
    currencies = models.JSONField(default=list, blank=True)
    settings_read_at = models.DateTimeField(null=True, blank=True)
    # Audit only until the owner chooses: Wise's own feed may already post these lines.
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AUDIT_ONLY)
    mode_chosen_at = models.DateTimeField(null=True, blank=True)
    mode_chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fee_account_code = models.CharField(max_length=20, blank=True)
    fx_clearing_account_code = models.CharField(max_length=20, blank=True)
    suspense_account_code = models.CharField(max_length=20, blank=True)
    post_from = models.DateField(
        null=True, blank=True, help_text="Only lines booked on or after this day are posted."
    )
    day_remaining = models.IntegerField(null=True, blank=True)
    minute_remaining = models.IntegerField(null=True, blank=True)
    limits_seen_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=200, blank=True)
    retries_429 = models.PositiveIntegerField(default=0)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    # Leases: one push and one pull at a time per organisation (a second runner skips).
    push_lease_until = models.DateTimeField(null=True, blank=True)
    pull_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def posts(self) -> bool:
        return self.mode == self.Mode.POSTS


class BooksConnection(models.Model):
    """Bulwark's authorisation to one organisation: OAuth tokens (rotating refresh token)
    or a custom connection (client credentials, no refresh token)."""

    class Kind(models.TextChoices):
        OAUTH = "OAUTH", "OAuth (signed in at the provider)"
        CUSTOM = "CUSTOM", "Custom connection"

    class Status(models.TextChoices):
        CHOOSING = "CHOOSING", "Choosing an organisation"
        CONNECTED = "CONNECTED", "Connected"
        RECONSENT = "RECONSENT", "Needs signing in again"
        DISCONNECTED = "DISCONNECTED", "Disconnected"

    provider = models.CharField(
        max_length=12, choices=Organisation.Provider.choices, default=Organisation.Provider.XERO
    )
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.OAUTH)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CHOOSING)
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="connections",
    )
    remote_connection_id = models.CharField(max_length=64, blank=True)
    auth_event_id = models.CharField(max_length=64, blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.TextField(blank=True)
    # A lease, not a database lock: only its holder refreshes the tokens, on SQLite too.
    refresh_lease_until = models.DateTimeField(null=True, blank=True)
    refresh_lease_owner = models.CharField(max_length=64, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_count = models.PositiveIntegerField(default=0)
    tenants = models.JSONField(default=list, blank=True, help_text="From /connections.")
    error = models.TextField(blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.status}"


class ChartAccount(models.Model):
    """An account of the organisation's chart, as last read (for the mapping page)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="accounts"
    )
    account_id = models.CharField(max_length=64)
    code = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20)
    status = models.CharField(max_length=20, default="ACTIVE")
    currency = models.CharField(max_length=3, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["type", "code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "account_id"], name="xacct_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()

    @property
    def is_bank(self) -> bool:
        return self.type == "BANK"


class TaxRate(models.Model):
    """A tax rate of the organisation, as last read: what a line's tax type may be."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="tax_rates"
    )
    tax_type = models.CharField(max_length=50)
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, default="ACTIVE")

    class Meta:
        ordering = ["tax_type"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "tax_type"], name="xtax_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tax_type} {self.name}".strip()


class TrackingOption(models.Model):
    """An option of one of the organisation's tracking categories, as last read."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="tracking_options"
    )
    category_id = models.CharField(max_length=64)
    category = models.CharField(max_length=100)
    option_id = models.CharField(max_length=64)
    option = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="ACTIVE")

    class Meta:
        ordering = ["category", "option"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "option_id"], name="xtrack_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.category}: {self.option}"


class BankAccountMapping(models.Model):
    """Which bank account of the books (same currency) a Bulwark cash account posts into."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="mappings"
    )
    cash_account = models.ForeignKey(
        "accounts.CashAccount", on_delete=models.CASCADE, related_name="books_mappings"
    )
    chart_account = models.ForeignKey(ChartAccount, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "cash_account"], name="mapping_unique_cash_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cash_account_id} → {self.chart_account_id}"


class Posting(models.Model):
    """The posting record of one stored line in one organisation.

    Written PENDING with the batch's idempotency key *before* the call, then POSTED (with
    the provider's id) or ERROR (with the provider's validation errors) after it. A row left
    PENDING means the outcome is unknown; the next push looks its key up in the books before
    sending it again, so a crash between the call and this write never double-posts.
    """

    class State(models.TextChoices):
        PENDING = "PENDING", "Sending"
        POSTED = "POSTED", "Posted"
        ERROR = "ERROR", "Refused by the books"

    class Operation(models.TextChoices):
        CREATE = "CREATE", "Create"
        UPDATE = "UPDATE", "Update"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="postings"
    )
    transaction = models.ForeignKey(
        "accounts.Transaction", on_delete=models.PROTECT, related_name="postings"
    )
    key = models.CharField(max_length=100, help_text="Bulwark's durable key, the Reference.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    operation = models.CharField(max_length=6, choices=Operation.choices, default=Operation.CREATE)
    remote_id = models.CharField(max_length=64, blank=True)
    batch_key = models.CharField(max_length=128, blank=True)
    attempted_revision = models.PositiveIntegerField(default=0)
    posted_revision = models.PositiveIntegerField(null=True, blank=True)
    total_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    currency_rate = ExactDecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    repost_requested = models.BooleanField(default=False)
    retry_requested = models.BooleanField(default=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "transaction"], name="posting_unique_line"
            ),
            models.UniqueConstraint(fields=["organisation", "key"], name="posting_unique_key"),
            models.CheckConstraint(
                condition=~Q(state="POSTED") | ~Q(remote_id=""), name="posting_posted_has_id"
            ),
        ]
        indexes = [models.Index(fields=["organisation", "state"], name="posting_state")]

    def __str__(self) -> str:
        return f"{self.key} {self.state}"

    @property
    def reference(self) -> str:
        return self.key


class LedgerEntry(models.Model):
    """A bank document read back from the books, on one bank account (a transfer gives two:
    its FROM and TO sides). `amount_minor` is signed: money into the account is positive."""

    class Kind(models.TextChoices):
        BANK_TRANSACTION = "BANK_TRANSACTION", "Bank transaction"
        BANK_TRANSFER = "BANK_TRANSFER", "Bank transfer"
        PAYMENT = "PAYMENT", "Payment"

    DEAD_STATUSES = ("DELETED", "VOIDED")  # entries that no longer move the account

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    remote_id = models.CharField(max_length=64)
    side = models.CharField(max_length=4, blank=True, help_text="FROM or TO for a transfer.")
    remote_type = models.CharField(max_length=30, blank=True)
    chart_account = models.ForeignKey(
        ChartAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    bank_account_id = models.CharField(max_length=64)
    date = models.DateField()
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=255, blank=True)
    posting_key = models.CharField(
        max_length=100, blank=True, help_text="Bulwark's key when the Reference holds one."
    )
    contact_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20)
    is_reconciled = models.BooleanField(default=False)
    updated_at_utc = models.DateTimeField()
    raw = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    pulled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date", "-updated_at_utc"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "remote_id", "side"], name="entry_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "bank_account_id", "date"], name="entry_day"),
            models.Index(fields=["posting_key"], name="entry_posting_key"),
        ]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.date} {self.amount_minor} {self.currency}"

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)


class BankBalance(models.Model):
    """A bank account's figures as the books report them for a day (Xero's Bank Summary,
    QuickBooks' account balance)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="balances"
    )
    chart_account = models.ForeignKey(ChartAccount, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    currency = models.CharField(max_length=3)
    opening_minor = models.BigIntegerField()
    received_minor = models.BigIntegerField()
    spent_minor = models.BigIntegerField()
    closing_minor = models.BigIntegerField()
    fetched_at = models.DateTimeField(default=timezone.now)
    raw = models.JSONField(encoder=DjangoJSONEncoder, default=dict)

    class Meta:
        ordering = ["-as_of"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "chart_account", "as_of"], name="balance_unique_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chart_account_id} {self.as_of} {self.closing_minor}"


class PullCursor(models.Model):
    """How far one read-back stream got: advanced with the page it covers, in one
    transaction, so a rerun after a crash repeats at most that page."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="cursors")
    stream = models.CharField(max_length=30)
    modified_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "stream"], name="cursor_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.stream} since {self.modified_since}"
