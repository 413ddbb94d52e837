from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import (
    BalanceSnapshot,
    CashAccount,
    DailyBalance,
    Institution,
    SyncRun,
    Transaction,
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
