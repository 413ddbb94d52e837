from django.contrib import admin

from accounts.admin import money_column
from ledger.models import (
    BankAccountMapping,
    BankBalance,
    BooksConnection,
    ChartAccount,
    LedgerEntry,
    Organisation,
    Posting,
)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant_id", "base_currency", "mode", "day_remaining", "last_push_at")


@admin.register(BooksConnection)
class BooksConnectionAdmin(admin.ModelAdmin):
    list_display = ("organisation", "kind", "status", "access_expires_at", "refresh_count")
    # Tokens never leave the database through the admin.
    exclude = ("access_token", "refresh_token")
    readonly_fields = ("refresh_lease_until", "refresh_lease_owner", "refreshed_at")


@admin.register(ChartAccount)
class ChartAccountAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "type", "currency", "status", "organisation")
    list_filter = ("type", "status")
    search_fields = ("code", "name")


@admin.register(BankAccountMapping)
class BankAccountMappingAdmin(admin.ModelAdmin):
    list_display = ("cash_account", "chart_account", "organisation")


@admin.register(Posting)
class PostingAdmin(admin.ModelAdmin):
    list_display = ("key", "state", "operation", "remote_id", "posted_revision", "sent_at")
    list_filter = ("state", "operation")
    search_fields = ("key", "remote_id")
    raw_id_fields = ("transaction",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ("date", "kind", "side", "amount", "reference", "is_reconciled")
    amount = money_column("amount_minor", "Amount")
    list_filter = ("kind", "is_reconciled", "status")
    search_fields = ("reference", "remote_id", "posting_key")


@admin.register(BankBalance)
class BankBalanceAdmin(admin.ModelAdmin):
    list_display = ("chart_account", "as_of", "closing")
    closing = money_column("closing_minor", "Closing")
