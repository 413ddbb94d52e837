import json
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
    account_number_masked,
)
from treasury.money import from_minor, money_format


def money_column(field: str, description: str, currency: str = "currency") -> Any:
    """A list column showing `field` (integer minor units) as every page writes money:
    `33,768.88 EUR`. `currency` names where the row's currency is (`account.currency`)."""

    @admin.display(description=description, ordering=field)
    def show(self: Any, obj: Any) -> str:
        code = obj
        for part in currency.split("."):
            code = getattr(code, part)
        minor = getattr(obj, field)
        return "—" if minor is None else money_format(from_minor(minor, code), code)

    return show


ACCOUNT_KEYS = ("account", "iban")


def raw_masked(value: Any, key: str = "") -> Any:
    """A raw payload with account numbers masked (`senderAccount`, `iban`…), as pages
    show them to who may not see them whole."""
    if isinstance(value, dict):
        return {k: raw_masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [raw_masked(v, key) for v in value]
    if isinstance(value, str) and any(word in key.lower() for word in ACCOUNT_KEYS):
        return account_number_masked(value)
    return value


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
    """The account number is whole only for who may change it (the owner); everyone else
    sees it masked, as on every page."""

    list_display = ("name", "currency", "kind", "institution", "is_active", "is_foreign_for_fbar")
    list_filter = ("currency", "kind", "institution", "is_active", "is_foreign_for_fbar")
    readonly_fields = ("chain_head", "chain_length", "opening_balance_minor", "created_at")
    search_fields = ("name",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if not self.has_change_permission(request, obj):
            fields = [
                "account_number_masked" if name == "account_number" else name for name in fields
            ]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        found = [*super().get_readonly_fields(request, obj)]
        if not self.has_change_permission(request, obj):
            found.append("account_number_masked")
        return found

    @admin.display(description="Account number")
    def account_number_masked(self, obj: CashAccount) -> str:
        return account_number_masked(obj.account_number) or "—"


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyRecordAdmin):
    """The raw payload shows whole account numbers only to the owner."""

    list_display = ("booked_at", "account", "shown_amount", "wise_type", "description", "source")
    list_filter = ("account", "currency", "direction", "wise_type", "source")
    search_fields = ("description", "counterparty", "reference_number", "payment_reference")
    list_select_related = ("account",)
    show_full_result_count = False  # no COUNT(*) over a million lines per page view

    @admin.display(description="Amount", ordering="amount_minor")
    def shown_amount(self, obj: Transaction) -> str:
        return money_format(obj.amount, obj.currency)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if not request.user.is_superuser:  # type: ignore[union-attr]
            fields = ["raw_shown" if name == "raw" else name for name in fields]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [*super().get_readonly_fields(request, obj), "raw_shown"]

    @admin.display(description="Raw")
    def raw_shown(self, obj: Transaction) -> str:
        return json.dumps(raw_masked(obj.raw), indent=1, ensure_ascii=False, default=str)


@admin.register(DailyBalance)
class DailyBalanceAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "date", "closing", "inflow", "outflow")
    list_filter = ("account",)
    closing = money_column("closing_minor", "Closing", "account.currency")
    inflow = money_column("inflow_minor", "In", "account.currency")
    outflow = money_column("outflow_minor", "Out", "account.currency")
    list_select_related = ("account",)
    show_full_result_count = False


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "taken_at", "balance", "source")
    list_filter = ("account", "source")
    list_select_related = ("account",)
    balance = money_column("balance_minor", "Balance", "account.currency")


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
