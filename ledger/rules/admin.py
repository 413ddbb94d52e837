"""Admin views of the rules' records. Rules are edited on the Rules page (with its
preview and audit); here they, the runs, the decision history and the audit trail are
read-only, so nothing bypasses the engine's locks and provenance."""

from django.contrib import admin

from accounts.admin import ReadOnlyRecordAdmin
from ledger.rules.models import AuditEntry, Categorization, LineDecision, Rule, RuleRun


@admin.register(Rule)
class RuleAdmin(ReadOnlyRecordAdmin):
    list_display = ("position", "name", "match", "stop_processing", "is_active", "default_key")
    ordering = ("position", "id")


@admin.register(Categorization)
class CategorizationAdmin(ReadOnlyRecordAdmin):
    list_display = ("transaction", "treatment", "account_code", "tax_type", "revision")
    list_filter = ("treatment",)
    search_fields = ("account_code", "contact_name")
    raw_id_fields = ("transaction",)


@admin.register(RuleRun)
class RuleRunAdmin(ReadOnlyRecordAdmin):
    list_display = ("created_at", "scope", "rule_name", "lines_seen", "lines_changed")
    list_filter = ("scope",)


@admin.register(LineDecision)
class LineDecisionAdmin(ReadOnlyRecordAdmin):
    list_display = ("at", "transaction", "user", "run", "revision")
    raw_id_fields = ("transaction", "run")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyRecordAdmin):
    list_display = ("at", "user", "action", "summary")
    list_filter = ("action",)
