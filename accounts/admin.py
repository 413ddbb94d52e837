from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import (
    BalanceGap,
    BalanceSnapshot,
    CashAccount,
    DailyBalance,
    Institution,
    StatementCursor,
    SyncRun,
    Transaction,
    WebhookDelivery,
    WiseConnection,
)
from treasury.money import money_format


class ReadOnlyRecordAdmin(admin.ModelAdmin):
    """Records Bulwark derives or receives: nobody edits them by hand, owner included."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "country")
    search_fields = ("name",)


@admin.register(CashAccount)
class CashAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "currency", "kind", "institution", "is_active", "is_foreign_for_fbar")
    list_filter = ("currency", "kind", "institution", "is_active", "is_foreign_for_fbar")
    readonly_fields = ("chain_head", "chain_length", "opening_balance_minor", "created_at")
    search_fields = ("name",)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyRecordAdmin):
    list_display = ("booked_at", "account", "shown_amount", "wise_type", "description", "source")
    list_filter = ("account", "currency", "direction", "wise_type", "source")
    search_fields = ("description", "counterparty", "reference_number", "payment_reference")
    list_select_related = ("account",)
    show_full_result_count = False  # no COUNT(*) over a million lines per page view

    @admin.display(description="Amount", ordering="amount_minor")
    def shown_amount(self, obj: Transaction) -> str:
        return money_format(obj.amount, obj.currency)


@admin.register(DailyBalance)
class DailyBalanceAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "date", "closing_minor", "inflow_minor", "outflow_minor")
    list_filter = ("account",)
    list_select_related = ("account",)
    show_full_result_count = False


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "taken_at", "balance_minor", "source")
    list_filter = ("account", "source")


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyRecordAdmin):
    list_display = ("kind", "status", "account", "label", "created_count", "started_at")
    list_filter = ("kind", "status")


@admin.register(WiseConnection)
class WiseConnectionAdmin(ReadOnlyRecordAdmin):
    """Secrets never reach the admin: the token shows masked, keys not at all. Connect,
    update or disconnect on the Wise connection page."""

    list_display = ("profile_name", "profile_id", "profile_type", "environment", "masked_token")
    fields = ("profile_name", "profile_id", "profile_type", "environment", "institution",
              "masked_token", "sync_start", "created_at", "updated_at")  # fmt: skip
    readonly_fields = fields

    @admin.display(description="API token")
    def masked_token(self, obj: WiseConnection) -> str:
        return obj.token_masked


@admin.register(StatementCursor)
class StatementCursorAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "synced_until", "proof_status", "proof_at", "locked_until")
    list_filter = ("proof_status",)
    list_select_related = ("account",)


@admin.register(BalanceGap)
class BalanceGapAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "start", "end", "detected_at", "resolved_at")
    list_filter = ("account",)
    list_select_related = ("account",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyRecordAdmin):
    list_display = ("received_at", "event_type", "delivery_id", "event_key", "account", "sync_run")
    list_filter = ("event_type", "is_test")
    list_select_related = ("account", "sync_run")
    show_full_result_count = False
