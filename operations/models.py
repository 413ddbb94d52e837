"""The work side: one ConnectWise PSA connection and the mirror of what Bulwark reads from it.

Every mirrored record keeps ConnectWise's id (unique per connection), its
`_info/lastUpdated` (`cw_updated_at`), the payload as ConnectWise sent it (`raw`, numbers
as their exact digits) and a `fingerprint` of the fields Bulwark uses, so a sync that
reads a record again writes nothing unless something changed. Amounts are exact
decimals in the record's currency; credit memos are invoices of type `CreditMemo`
(their amounts negative), applied to an invoice as a payment of type `Credit`.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from treasury.crypto import EncryptedTextField
from treasury.fields import ExactDecimalField
from treasury.money import from_minor


def _amount(**options: object) -> ExactDecimalField:
    # A line's figure as ConnectWise bills it (four places; never compared in queries).
    return ExactDecimalField(max_digits=20, decimal_places=4, **options)  # type: ignore[arg-type]


def _minor(**options: object) -> models.BigIntegerField:
    """Money the pages filter and sum: integer minor units of the record's currency, so
    comparisons and sums are exact on SQLite and PostgreSQL alike (`treasury.money`)."""
    return models.BigIntegerField(**options)  # type: ignore[arg-type]


class ConnectWiseConnection(models.Model):
    """One ConnectWise PSA tenant, read with an API member's keys (encrypted at rest)."""

    site_url = models.URLField(help_text="The PSA's address, e.g. https://na.myconnectwise.net")
    company_id = models.CharField(max_length=50, help_text="The company id typed at login.")
    company_name = models.CharField(max_length=200, blank=True)
    codebase = models.CharField(max_length=40, help_text="From /login/companyinfo.")
    public_key = EncryptedTextField(help_text="API member public key. Encrypted at rest.")
    private_key = EncryptedTextField(help_text="API member private key. Encrypted at rest.")
    client_id = models.CharField(
        max_length=64, help_text="The integration's clientId from developer.connectwise.com."
    )
    callback_id = models.IntegerField(null=True, blank=True)
    callback_url = models.URLField(max_length=500, blank=True)
    # The lease of the sync that holds this connection: one conditional UPDATE takes it.
    lease_owner = models.CharField(max_length=120, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site_url", "company_id"], name="cw_connection_unique")
        ]

    def __str__(self) -> str:
        return f"{self.company_name or self.company_id} (ConnectWise)"

    @property
    def private_key_masked(self) -> str:
        return "•" * 8 + self.private_key[-4:] if len(self.private_key) > 12 else "•" * 8


class SyncCursor(models.Model):
    """How far one stream of a connection is stored. A pass reads records changed since
    `pass_since`, in id order; `after_id` is the last id stored in the pass (a killed run
    resumes after it), `pass_max` the newest `lastUpdated` it stored. When the pass ends,
    `since` moves to `pass_max` and the pass fields are cleared, in one transaction."""

    class Stream(models.TextChoices):
        SETUP = "setup", "Tax codes, billing terms, currencies"
        COMPANIES = "companies", "Companies"
        INVOICES = "invoices", "Invoices"

    connection = models.ForeignKey(
        ConnectWiseConnection, on_delete=models.CASCADE, related_name="cursors"
    )
    stream = models.CharField(max_length=20, choices=Stream.choices)
    since = models.DateTimeField(null=True, blank=True)
    pass_since = models.DateTimeField(null=True, blank=True)
    pass_started = models.BooleanField(default=False)
    after_id = models.IntegerField(default=0)
    pass_max = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "stream"], name="cw_cursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.stream} since {self.since}"


class Mirrored(models.Model):
    connection = models.ForeignKey(ConnectWiseConnection, on_delete=models.CASCADE)
    cw_id = models.IntegerField(verbose_name="ConnectWise id")
    cw_updated_at = models.DateTimeField(verbose_name="lastUpdated in ConnectWise")
    fingerprint = models.CharField(max_length=64, editable=False)
    raw = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class Company(Mirrored):
    identifier = models.CharField(max_length=30)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=50, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    billing_terms_cw_id = models.IntegerField(null=True, blank=True)
    tax_code_cw_id = models.IntegerField(null=True, blank=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "cw_id"], name="cw_company_unique")
        ]

    def __str__(self) -> str:
        return self.name


class TaxCode(Mirrored):
    identifier = models.CharField(max_length=8)
    description = models.CharField(max_length=100)
    rate = ExactDecimalField(max_digits=12, decimal_places=6, help_text="Level one, percent.")
    services = models.BooleanField(default=False)
    expenses = models.BooleanField(default=False)
    products = models.BooleanField(default=False)
    cancelled_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["identifier"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "cw_id"], name="cw_taxcode_unique")
        ]

    def __str__(self) -> str:
        return f"{self.identifier} {self.rate}%"


class BillingTerm(Mirrored):
    name = models.CharField(max_length=50)
    due_days = models.IntegerField(null=True, blank=True)
    default = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "cw_id"], name="cw_billingterm_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Currency(Mirrored):
    identifier = models.CharField(max_length=10)
    code = models.CharField(max_length=3, help_text="ISO 4217")
    name = models.CharField(max_length=50)
    decimals = models.IntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "cw_id"], name="cw_currency_unique")
        ]

    def __str__(self) -> str:
        return self.code


class Invoice(Mirrored):
    CREDIT_MEMO = "CreditMemo"

    number = models.CharField(max_length=15)
    type = models.CharField(max_length=20)
    status = models.CharField(max_length=50)
    company_cw_id = models.IntegerField(null=True)
    company_name = models.CharField(max_length=100, blank=True)
    date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    billing_terms_cw_id = models.IntegerField(null=True, blank=True)
    tax_code_cw_id = models.IntegerField(null=True, blank=True)
    taxable = models.BooleanField(default=False)
    reference = models.CharField(max_length=50, blank=True)
    customer_po = models.CharField(max_length=50, blank=True)
    apply_to_type = models.CharField(max_length=20, blank=True)
    apply_to_id = models.IntegerField(null=True, blank=True)
    subtotal_minor = _minor()
    sales_tax_minor = _minor()
    total_minor = _minor()
    payments_minor = _minor()
    credits_minor = _minor()
    balance_minor = _minor()
    lines_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date", "-cw_id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "cw_id"], name="cw_invoice_unique"),
            # ConnectWise's identity of a balance, in the database too (the sync checks it
            # first and names the invoice that breaks it).
            models.CheckConstraint(
                condition=Q(
                    balance_minor=F("total_minor") - F("payments_minor") - F("credits_minor")
                ),
                name="cw_invoice_balance_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["connection", "balance_minor"], name="cw_invoice_open")]

    def __str__(self) -> str:
        return f"{self.number} {self.company_name} {self.total} {self.currency}"

    @property
    def is_credit_memo(self) -> bool:
        return self.type == self.CREDIT_MEMO

    @property
    def total(self) -> Decimal:
        return from_minor(self.total_minor, self.currency)

    @property
    def balance(self) -> Decimal:
        return from_minor(self.balance_minor, self.currency)

    @property
    def sales_tax(self) -> Decimal:
        return from_minor(self.sales_tax_minor, self.currency)


class InvoiceLine(models.Model):
    """One thing billed on an invoice: a time or expense entry, a product, or an
    agreement invoice's agreement amount (`source_id` is then the agreement's id)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10)  # time, expense, product, agreement
    source_id = models.IntegerField()
    description = models.TextField(blank=True)
    quantity = ExactDecimalField(max_digits=20, decimal_places=6)
    unit_price = ExactDecimalField(max_digits=20, decimal_places=6)
    amount = _amount()
    billable_option = models.CharField(max_length=20, blank=True)
    taxable = models.BooleanField(null=True)
    tax_code_cw_id = models.IntegerField(null=True, blank=True)
    item = models.CharField(max_length=100, blank=True)
    day = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "kind", "source_id"], name="cw_invoiceline_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_id}: {self.amount}"


class InvoicePayment(Mirrored):
    """A payment applied to an invoice in ConnectWise, or a credit memo applied to it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="applied")
    type = models.CharField(max_length=20)  # Payment, Credit
    currency = models.CharField(max_length=3)
    amount_minor = _minor()
    paid_on = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=100, blank=True)
    credit_invoice_cw_id = models.IntegerField(null=True, blank=True)
    applied_by = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["invoice", "paid_on", "cw_id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "cw_id"], name="cw_payment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.amount} {self.currency}"

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)


class InvoiceRefresh(models.Model):
    """An invoice a callback announced and no refresh has read yet: one row per invoice,
    however many times the change is announced, so a storm queues one refresh."""

    connection = models.ForeignKey(ConnectWiseConnection, on_delete=models.CASCADE)
    cw_id = models.IntegerField()
    action = models.CharField(max_length=10, blank=True)  # added, updated, deleted
    announced = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "cw_id"], name="cw_refresh_unique")
        ]

    def __str__(self) -> str:
        return f"Refresh invoice {self.cw_id} ({self.announced} times)"
