"""How each stored line is booked: its categorization, set by ordered rules or by hand,
with the history of every decision and an audit trail of who changed what."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

# The booking fields a rule or a person can set, in display order.
BOOKING_FIELDS = ("treatment", "account_code", "tax_type", "contact_name", "tracking")
# Provenance key (not a field) naming the "stop" rule that ended a line's evaluation.
STOPPED_BY = "_stopped_by"


class Categorization(models.Model):
    """The booking decision for one transaction line (one row per line at most).

    A row exists once the rules have evaluated the line (even when no rule matched: then
    every field is at its default) or a person has edited it; so "no row" means "rules
    have not seen this line yet" and posting can wait for them.

    Rules fill the fields; a field the owner set by hand is listed in `locked_fields`
    and rules leave it alone until it is unlocked. `provenance` says, per field, which
    rule (or person) set it and when: `{"account_code": {"rule": 3, "name": "...",
    "at": "2026-05-01T10:00:00+00:00"}}` or `{..., {"user": "olivia", "user_id": 1, ...}}`.
    `revision` grows by one on every change of a booking field, by a rule or a person;
    posting compares it with the revision it last posted.
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
    account_code = models.CharField(
        max_length=20, blank=True, help_text="Account code in the connected books' chart."
    )
    tax_type = models.CharField(max_length=50, blank=True)
    contact_name = models.CharField(max_length=255, blank=True)
    tracking = models.JSONField(default=list, blank=True, help_text='[{"name":…, "option":…}]')
    provenance = models.JSONField(default=dict, blank=True)
    locked_fields = models.JSONField(default=list, blank=True)
    revision = models.PositiveIntegerField(
        default=0, help_text="Grows by one on every change of a booking field (0: never set)."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["treatment", "account_code"], name="categ_treatment_code")]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.treatment} {self.account_code}"


class Rule(models.Model):
    """One categorization rule: conditions joined by ALL or ANY, and the fields it sets.

    Rules run in `position` order; per field, the first matching rule that sets it wins
    (see `engine`). `default_key` names a rule Bulwark created as a default, so the
    defaults can be restored without duplicating the ones the owner kept.
    """

    class Match(models.TextChoices):
        ALL = "ALL", "all conditions"
        ANY = "ANY", "any condition"

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    stop_processing = models.BooleanField(
        default=False, help_text="When this rule matches, later rules are not evaluated."
    )
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    default_key = models.CharField(max_length=40, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )  # fmt: skip
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )  # fmt: skip

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["default_key"], condition=~Q(default_key=""), name="rule_unique_default"
            ),
        ]
        indexes = [models.Index(fields=["position", "id"], name="rule_order")]

    def __str__(self) -> str:
        return self.name


class Condition(models.Model):
    """One test on a line. Text tests are case-insensitive unless `case_sensitive`.

    Amount bounds are in the line's own currency, inclusive, and compare the absolute
    amount (ignoring the sign) unless `amount_absolute` is off, when debits are negative.
    The amount is what moved the balance (for Wise, fees included).
    """

    class Field(models.TextChoices):
        DESCRIPTION = "DESCRIPTION", "Description"
        COUNTERPARTY = "COUNTERPARTY", "Counterparty"
        PAYMENT_REFERENCE = "PAYMENT_REFERENCE", "Payment reference"
        AMOUNT = "AMOUNT", "Amount"
        CURRENCY = "CURRENCY", "Currency"
        DIRECTION = "DIRECTION", "Direction"
        WISE_TYPE = "WISE_TYPE", "Wise type"
        CASH_ACCOUNT = "CASH_ACCOUNT", "Cash account"

    class Operator(models.TextChoices):
        CONTAINS = "CONTAINS", "contains"
        EQUALS = "EQUALS", "equals"
        STARTS_WITH = "STARTS_WITH", "starts with"
        REGEX = "REGEX", "matches regular expression"
        IS_ONE_OF = "IS_ONE_OF", "is one of"
        BETWEEN = "BETWEEN", "is between"

    TEXT_FIELDS = frozenset({Field.DESCRIPTION, Field.COUNTERPARTY, Field.PAYMENT_REFERENCE})
    TEXT_OPERATORS = frozenset(
        {Operator.CONTAINS, Operator.EQUALS, Operator.STARTS_WITH, Operator.REGEX}
    )

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(max_length=20, choices=Field.choices, default=Field.DESCRIPTION)
    operator = models.CharField(max_length=12, choices=Operator.choices, default=Operator.CONTAINS)
    value = models.CharField(
        max_length=500, blank=True, help_text="Text, or a comma-separated list for 'is one of'."
    )
    case_sensitive = models.BooleanField(default=False)
    # 15 significant digits survive SQLite's REAL storage exactly; bounds need no more.
    amount_min = models.DecimalField(max_digits=15, decimal_places=4, null=True, blank=True)
    amount_max = models.DecimalField(max_digits=15, decimal_places=4, null=True, blank=True)
    amount_absolute = models.BooleanField(
        default=True, help_text="Compare the amount without its sign (debits and credits alike)."
    )
    # PROTECT: dropping a condition silently would widen what the rule matches.
    cash_account = models.ForeignKey(
        "accounts.CashAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["rule", "id"]

    def __str__(self) -> str:
        return f"{self.get_field_display()} {self.get_operator_display()} {self.value}"

    def clean(self) -> None:
        from ledger.rules.engine import condition_problems

        problems = condition_problems(self)
        if problems:
            raise ValidationError(problems)


class Action(models.Model):
    """One field a rule sets. TRACKING holds a category (`value`) and an `option`; a rule
    may set up to two tracking categories (Xero's limit), every other kind once."""

    class Kind(models.TextChoices):
        ACCOUNT_CODE = "ACCOUNT_CODE", "Ledger account (code in the books)"
        TAX_TYPE = "TAX_TYPE", "Tax type"
        CONTACT = "CONTACT", "Contact"
        TRACKING = "TRACKING", "Tracking category"
        TREATMENT = "TREATMENT", "Treatment"

    FIELD_OF_KIND = {
        Kind.ACCOUNT_CODE: "account_code",
        Kind.TAX_TYPE: "tax_type",
        Kind.CONTACT: "contact_name",
        Kind.TRACKING: "tracking",
        Kind.TREATMENT: "treatment",
    }

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ACCOUNT_CODE)
    value = models.CharField(max_length=255, blank=True)
    option = models.CharField(max_length=100, blank=True, help_text="Tracking option.")

    class Meta:
        ordering = ["rule", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "kind"], condition=~Q(kind="TRACKING"), name="action_unique_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} = {self.value}"

    def clean(self) -> None:
        from ledger.rules.engine import action_problems

        problems = action_problems(self)
        if problems:
            raise ValidationError(problems)


class RuleRun(models.Model):
    """One application of the rules to stored lines; progress lives in its SyncRun."""

    class Scope(models.TextChoices):
        ALL = "ALL", "All lines"
        RULE = "RULE", "Lines of one rule"
        NEW_LINES = "NEW_LINES", "New lines"
        UNSEEN = "UNSEEN", "Lines rules had not seen"

    sync_run = models.OneToOneField(
        "accounts.SyncRun", on_delete=models.CASCADE, related_name="rule_run"
    )
    scope = models.CharField(max_length=10, choices=Scope.choices)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    # The rule's id survives its deletion here: applying after a delete needs it.
    rule_key = models.PositiveIntegerField(null=True, blank=True)
    rule_name = models.CharField(max_length=120, blank=True)
    account = models.ForeignKey(
        "accounts.CashAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seq = models.PositiveIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lines_seen = models.PositiveIntegerField(default=0)
    lines_changed = models.PositiveIntegerField(default=0)
    fields_changed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.created_at:%Y-%m-%d %H:%M}"


class LineDecision(models.Model):
    """One change to one line's categorization, by a rule run or a person.

    `changes` maps each changed field to `{"before", "after", "rule", "rule_name"}`
    (`rule` is None when no rule sets the field any more, or when a person set it).
    """

    transaction = models.ForeignKey(
        "accounts.Transaction", on_delete=models.PROTECT, related_name="rule_decisions"
    )
    run = models.ForeignKey(
        RuleRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    changes = models.JSONField(default=dict)
    revision = models.PositiveIntegerField(help_text="The categorization's revision after it.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["transaction", "-at"], name="decision_line_recent")]

    def __str__(self) -> str:
        return f"{self.transaction_id} @ {self.at:%Y-%m-%d %H:%M}: {', '.join(self.changes)}"


class AuditEntry(models.Model):
    """Who changed the rules or a line's booking, when, and what (append-only)."""

    class Action(models.TextChoices):
        RULE_CREATED = "RULE_CREATED", "Rule created"
        RULE_CHANGED = "RULE_CHANGED", "Rule changed"
        RULE_DELETED = "RULE_DELETED", "Rule deleted"
        RULES_REORDERED = "RULES_REORDERED", "Rules reordered"
        DEFAULTS_RESTORED = "DEFAULTS_RESTORED", "Default rules restored"
        RUN_REQUESTED = "RUN_REQUESTED", "Rules applied to existing lines"
        RUN_FINISHED = "RUN_FINISHED", "Rule run finished"
        LINE_EDITED = "LINE_EDITED", "Line edited by hand"
        LINE_UNLOCKED = "LINE_UNLOCKED", "Line fields unlocked"

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    rule_name = models.CharField(max_length=120, blank=True)
    transaction = models.ForeignKey(
        "accounts.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run = models.ForeignKey(
        RuleRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    summary = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["-at", "-id"], name="audit_recent")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}: {self.summary}"
