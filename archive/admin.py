"""The archive in the admin: its records to look at, never to edit (a filed document,
version or chain entry changed here would be exactly what `verify_archive` reports)."""

from django.contrib import admin

from accounts.admin import ReadOnlyRecordAdmin
from archive.forms import FilingRuleForm
from archive.models import Document, Entry, FilingRule, StatementProof, StoredFile, Version


@admin.register(Document)
class DocumentAdmin(ReadOnlyRecordAdmin):
    list_display = ("path", "status", "function", "about_on", "account", "created_at")
    list_filter = ("status", "function", "kind")
    search_fields = ("path", "original_name", "sender")


@admin.register(Version)
class VersionAdmin(ReadOnlyRecordAdmin):
    list_display = ("document", "number", "source", "replaces", "filed_at")
    list_select_related = ("document", "replaces")


@admin.register(StoredFile)
class StoredFileAdmin(ReadOnlyRecordAdmin):
    list_display = ("sha256", "size", "content_type", "created_at")


@admin.register(Entry)
class EntryAdmin(ReadOnlyRecordAdmin):
    list_display = ("seq", "action", "path", "sha256", "at")


@admin.register(StatementProof)
class StatementProofAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "month", "status", "detail", "mismatch")
    list_filter = ("status",)
    list_select_related = ("account", "mismatch")


@admin.register(FilingRule)
class FilingRuleAdmin(admin.ModelAdmin):
    form = FilingRuleForm  # the same RE2 checks as the rules page
    list_display = ("order", "name", "function", "subject", "kind", "is_active")
