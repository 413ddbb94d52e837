"""Money held: institutions, cash accounts, their immutable transactions, and the
balances derived from them.

Amounts are stored as integer **minor units** of the row's currency (cents, yen, fils).
Integers are exact on every database and sum exactly in SQL, where SQLite would store a
DecimalField as a binary REAL. Properties give the Decimal amount back; conversion goes
through `treasury.money`, which refuses an amount finer than the currency allows.
"""

from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from treasury.crypto import EncryptedTextField
from treasury.fields import ExactDecimalField
from treasury.money import from_minor


class ImmutableRecordError(Exception):
    """A stored transaction line was about to be changed or deleted through the app."""


class Institution(models.Model):
    class Kind(models.TextChoices):
        WISE = "WISE", "Wise"
        BANK = "BANK", "Bank"
        OTHER = "OTHER", "Other"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BANK)
    address = models.TextField(blank=True, help_text="Street, city and country (FBAR).")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CashAccount(models.Model):
    """One balance in one currency: a Wise currency balance or jar, or a bank account."""

    class Kind(models.TextChoices):
        STANDARD = "STANDARD", "Current balance"
        SAVINGS = "SAVINGS", "Savings jar"
        CHECKING = "CHECKING", "Checking"
        DEPOSIT = "DEPOSIT", "Deposit"
        OTHER = "OTHER", "Other"

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="accounts")
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STANDARD)
    wise_profile_id = models.BigIntegerField(null=True, blank=True)
    wise_balance_id = models.BigIntegerField(null=True, blank=True)
    account_number = EncryptedTextField(blank=True, help_text="Encrypted at rest.")
    opened_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_foreign_for_fbar = models.BooleanField(
        default=False,
        help_text=(
            "Whether this is a foreign financial account for FBAR. For a Wise balance that "
            "depends on the Wise entity holding it; the owner decides."
        ),
    )
    # Balance before the first stored line, in minor units; daily balances start here.
    opening_balance_minor = models.BigIntegerField(default=0)
    # Head of the tamper-evident hash chain of this account's lines.
    chain_head = models.CharField(max_length=64, blank=True, editable=False)
    chain_length = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["currency", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["wise_balance_id"],
                condition=Q(wise_balance_id__isnull=False),
                name="cashaccount_unique_wise_balance",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="cashaccount_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    @property
    def opening_balance(self) -> Decimal:
        return from_minor(self.opening_balance_minor, self.currency)


class AccountIdentifier(models.Model):
    """Another number statement files name a cash account by (an IBAN, a bank's own
    account number), recorded when the owner maps a file's account to it. The account's
    `account_number` counts too; this holds the rest."""

    account = models.ForeignKey("CashAccount", on_delete=models.CASCADE, related_name="identifiers")
    identifier = EncryptedTextField(help_text="Normalized (no spaces). Encrypted at rest.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["account", "pk"]

    def __str__(self) -> str:
        return f"{self.account_id} ••{self.identifier[-4:]}"


class StatementPeriod(models.Model):
    """What a statement file says of one account over a period: the balance at its start
    and at its end, as the bank states them.

    Each import checks its statements against these: a file that overlaps or adjoins a
    stored period must agree with it, to the cent. `opening_at` and `closing_at` are the
    moments the balances hold at: the balance of the lines booked before `opening_at`,
    and of those booked up to `closing_at`.
    """

    account = models.ForeignKey(
        "CashAccount", on_delete=models.CASCADE, related_name="statement_periods"
    )
    run = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8)
    starts_on = models.DateField()
    ends_on = models.DateField()
    opening_at = models.DateTimeField()
    closing_at = models.DateTimeField()
    opening_minor = models.BigIntegerField()
    closing_minor = models.BigIntegerField()
    line_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["account", "opening_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "opening_at", "closing_at"], name="period_unique_span"
            ),
            models.CheckConstraint(
                condition=Q(closing_at__gte=F("opening_at")) & Q(ends_on__gte=F("starts_on")),
                name="period_ordered",
            ),
        ]
        indexes = [models.Index(fields=["account", "closing_at"], name="period_account_end")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.starts_on}..{self.ends_on}"


class TransactionQuerySet(models.QuerySet["Transaction"]):
    def update(self, **kwargs: object) -> int:
        raise ImmutableRecordError("Transaction lines are immutable.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError("Transaction lines are immutable.")


class Transaction(models.Model):
    """One line of a cash account's statement, stored once and never changed.

    `amount_minor` is what moved the balance (signed; for Wise the fee is inside it, as
    Wise reports it). `natural_key` is unique per account and derived the same way from
    the API and from statement files, so overlapping sources store a line once. `digest`
    chains each line to the previous one of its account (`seq` order).
    """

    class Direction(models.TextChoices):
        CREDIT = "CREDIT", "Credit"
        DEBIT = "DEBIT", "Debit"

    class Source(models.TextChoices):
        API = "API", "Wise API"
        CSV = "CSV", "CSV file"
        CAMT053 = "CAMT053", "CAMT.053 file"
        MT940 = "MT940", "MT940 file"
        MANUAL = "MANUAL", "Entered by hand"

    account = models.ForeignKey(CashAccount, on_delete=models.PROTECT, related_name="transactions")
    seq = models.PositiveIntegerField(help_text="Position in the account's hash chain, from 1.")
    natural_key = models.CharField(max_length=255)
    booked_at = models.DateTimeField()
    booked_on = models.DateField(help_text="UTC date of booked_at.")
    direction = models.CharField(max_length=6, choices=Direction.choices)
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField(default=0)
    running_balance_minor = models.BigIntegerField(null=True, blank=True)
    wise_type = models.CharField(max_length=40, default="UNKNOWN")
    description = models.TextField(blank=True)
    counterparty = models.CharField(max_length=300, blank=True)
    reference_number = models.CharField(max_length=100, blank=True)
    payment_reference = models.CharField(max_length=300, blank=True)
    # The other side of a conversion (or the original amount of a card payment).
    counter_currency = models.CharField(max_length=3, blank=True)
    counter_amount_minor = models.BigIntegerField(null=True, blank=True)
    # Exact on SQLite too (text there): a REAL keeps 15 digits, this holds 24.
    fx_rate = ExactDecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    raw = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    prev_digest = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TransactionQuerySet.as_manager()

    class Meta:
        ordering = ["-booked_at", "-seq"]
        constraints = [
            models.UniqueConstraint(fields=["account", "natural_key"], name="txn_unique_natural"),
            models.UniqueConstraint(fields=["account", "seq"], name="txn_unique_seq"),
            models.CheckConstraint(
                condition=(
                    Q(direction="CREDIT", amount_minor__gte=0)
                    | Q(direction="DEBIT", amount_minor__lte=0)
                ),
                name="txn_direction_matches_sign",
            ),
            models.CheckConstraint(condition=Q(fee_minor__gte=0), name="txn_fee_not_negative"),
        ]
        indexes = [
            models.Index(fields=["account", "booked_on"], name="txn_account_day"),
            models.Index(fields=["booked_on", "id"], name="txn_day"),
            models.Index(fields=["account", "-booked_at", "-seq"], name="txn_account_recent"),
            # The transactions page, newest first by keyset over all accounts.
            models.Index(fields=["-booked_at", "-id"], name="txn_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.booked_on} {self.amount} {self.currency} {self.description[:40]}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ImmutableRecordError("Transaction lines are immutable.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError("Transaction lines are immutable.")

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def fee(self) -> Decimal:
        return from_minor(self.fee_minor, self.currency)

    @property
    def running_balance(self) -> Decimal | None:
        if self.running_balance_minor is None:
            return None
        return from_minor(self.running_balance_minor, self.currency)

    @property
    def counter_amount(self) -> Decimal | None:
        if self.counter_amount_minor is None or not self.counter_currency:
            return None
        return from_minor(self.counter_amount_minor, self.counter_currency)


class DailyBalance(models.Model):
    """Closing balance and flows of one account on one day with activity.

    Precomputed by every ingest (from the first changed day onward), so pages read a
    handful of rows instead of summing history. Days without activity have no row: the
    balance on any date is the closing of the latest row on or before it, or the
    account's opening balance when there is none.
    """

    account = models.ForeignKey(CashAccount, on_delete=models.CASCADE, related_name="daily")
    date = models.DateField()
    closing_minor = models.BigIntegerField()
    inflow_minor = models.BigIntegerField(default=0)
    outflow_minor = models.BigIntegerField(default=0, help_text="Negative or zero.")
    line_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="daily_unique_day"),
        ]
        indexes = [models.Index(fields=["date"], name="daily_date")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date} {self.closing_minor}"


class BalanceSnapshot(models.Model):
    """A balance as the institution reported it at a moment (for the balance proof)."""

    account = models.ForeignKey(CashAccount, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    balance_minor = models.BigIntegerField()
    source = models.CharField(max_length=20, default="WISE")
    raw = models.JSONField(encoder=DjangoJSONEncoder, default=dict)

    class Meta:
        ordering = ["-taken_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "taken_at"], name="snapshot_unique_time"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.taken_at:%Y-%m-%d %H:%M} {self.balance_minor}"

    @property
    def balance(self) -> Decimal:
        return from_minor(self.balance_minor, self.account.currency)


class SyncRun(models.Model):
    """One run of a long job (a sync, an import, a push), with live progress for pages."""

    class Kind(models.TextChoices):
        WISE_BALANCES = "WISE_BALANCES", "Wise balances"
        WISE_STATEMENTS = "WISE_STATEMENTS", "Wise statements"
        FILE_IMPORT = "FILE_IMPORT", "Statement file"
        RATES = "RATES", "FX rates"
        XERO_PUSH = "XERO_PUSH", "Xero posting"
        XERO_PULL = "XERO_PULL", "Xero read-back"
        RULES = "RULES", "Rules"
        RECONCILE = "RECONCILE", "Reconciliation"

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued"
        RUNNING = "RUNNING", "Running"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"
        SKIPPED = "SKIPPED", "Skipped"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    account = models.ForeignKey(
        CashAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_runs"
    )
    label = models.CharField(max_length=200, blank=True, help_text="File name or scope.")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    detail = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["kind", "-started_at"], name="syncrun_kind_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.status} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == self.Status.SUCCEEDED else 0
        return min(100, int(self.progress_done * 100 / self.progress_total))


class WiseConnection(models.Model):
    """One Wise profile Bulwark reads, with its secrets encrypted at rest.

    Its balances are the cash accounts whose `wise_profile_id` is `profile_id`.
    """

    class Environment(models.TextChoices):
        LIVE = "LIVE", "Wise (live)"
        SANDBOX = "SANDBOX", "Wise sandbox"

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="wise_connections"
    )
    environment = models.CharField(
        max_length=10, choices=Environment.choices, default=Environment.LIVE
    )
    profile_id = models.BigIntegerField(unique=True)
    profile_type = models.CharField(max_length=20, blank=True)
    profile_name = models.CharField(max_length=200, blank=True)
    api_token = EncryptedTextField(help_text="Personal API token. Encrypted at rest.")
    sca_private_key = EncryptedTextField(
        blank=True, help_text="RSA private key (PEM) that signs SCA challenges. Encrypted."
    )
    webhook_public_key = EncryptedTextField(
        blank=True, help_text="Wise's public key (PEM) that signs its webhooks."
    )
    sync_start = models.DateField(
        null=True, blank=True, help_text="How far back the first statement sync goes."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["profile_name"]

    def __str__(self) -> str:
        return f"{self.profile_name or self.profile_id} ({self.get_environment_display()})"

    @property
    def token_masked(self) -> str:
        return mask_secret(self.api_token)


def mask_secret(secret: str) -> str:
    """`••••••••1a2b`: enough to recognise a token, never enough to use it."""
    if not secret:
        return ""
    return "•" * 8 + secret[-4:] if len(secret) > 12 else "•" * 8


def account_number_masked(number: str) -> str:
    """'•••• 1234': the last four characters of the number, the rest hidden (every page,
    the admin for who may not change the account, and the accountant's exports)."""
    visible = "".join(number.split())[-4:]
    return f"•••• {visible}" if visible else ""


class StatementCursor(models.Model):
    """Per cash account: how far its statements are stored, the lease of the sync that
    is running, and the last balance proof.

    The lease is taken with one conditional UPDATE (free or expired), which is atomic on
    SQLite and PostgreSQL alike; the cursor moves in the same transaction as the lines.
    """

    class Proof(models.TextChoices):
        UNCHECKED = "UNCHECKED", "Not checked yet"
        OK = "OK", "Matches Wise"
        MISMATCH = "MISMATCH", "Differs from Wise"

    account = models.OneToOneField(
        CashAccount, on_delete=models.CASCADE, related_name="statement_cursor"
    )
    synced_until = models.DateTimeField(
        null=True, blank=True, help_text="Statements are stored up to (excluding) this time."
    )
    locked_until = models.DateTimeField(null=True, blank=True)
    lock_owner = models.CharField(max_length=200, blank=True)
    last_run = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proof_status = models.CharField(max_length=10, choices=Proof.choices, default=Proof.UNCHECKED)
    proof_at = models.DateTimeField(
        null=True, blank=True, help_text="When Wise reported the balance compared."
    )
    proof_wise_minor = models.BigIntegerField(null=True, blank=True)
    proof_stored_minor = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.account_id} until {self.synced_until}"

    @property
    def proof_difference(self) -> Decimal | None:
        if self.proof_wise_minor is None or self.proof_stored_minor is None:
            return None
        return from_minor(self.proof_wise_minor - self.proof_stored_minor, self.account.currency)


class BalanceGap(models.Model):
    """Stored lines that do not add up to what Wise reports: the range to fetch again.

    Opened by a failed balance proof; the next sync re-fetches from `start`, and a proof
    that holds afterwards resolves it.
    """

    account = models.ForeignKey(CashAccount, on_delete=models.CASCADE, related_name="gaps")
    start = models.DateTimeField()
    end = models.DateTimeField()
    wise_minor = models.BigIntegerField(help_text="Balance Wise reported at `end`.")
    stored_minor = models.BigIntegerField(help_text="Balance of the stored lines at `end`.")
    reason = models.TextField(blank=True)
    detected_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["account", "resolved_at"], name="gap_account_open")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}"

    @property
    def difference(self) -> Decimal:
        return from_minor(self.wise_minor - self.stored_minor, self.account.currency)


class WebhookDelivery(models.Model):
    """One webhook Wise delivered, kept to answer a redelivery without a second sync."""

    delivery_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    # balance_id:step_id:transaction_type; Wise may redeliver under a new delivery id.
    event_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    event_type = models.CharField(max_length=60)
    is_test = models.BooleanField(default=False)
    account = models.ForeignKey(
        CashAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sync_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    payload = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.delivery_id or self.event_key}"
