"""The mirror in the admin: read-only (ConnectWise is its source), the connection's keys
never shown."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from operations.models import (
    BillingTerm,
    Company,
    ConnectWiseConnection,
    Currency,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    InvoiceRefresh,
    SyncCursor,
    TaxCode,
)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConnectWiseConnection)
class ConnectionAdmin(ReadOnly):
    list_display = ("company_name", "company_id", "site_url", "callback_id", "created_at")
    exclude = ("public_key", "private_key")


@admin.register(SyncCursor)
class CursorAdmin(ReadOnly):
    list_display = ("connection", "stream", "since", "pass_started", "after_id")


@admin.register(Company)
class CompanyAdmin(ReadOnly):
    list_display = ("name", "identifier", "currency", "status", "cw_id", "cw_updated_at")
    search_fields = ("name", "identifier")


class LineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ("position", "kind", "item", "description", "quantity", "unit_price", "amount")
    readonly_fields = fields


class PaymentInline(admin.TabularInline):
    model = InvoicePayment
    extra = 0
    can_delete = False
    fields = ("cw_id", "type", "amount", "currency", "paid_on", "source", "credit_invoice_cw_id")
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnly):
    list_display = ("number", "date", "company_name", "type", "status", "currency", "total",
                    "balance")  # fmt: skip
    list_filter = ("type", "status", "currency")
    search_fields = ("number", "company_name", "reference")
    inlines = (LineInline, PaymentInline)


@admin.register(TaxCode)
class TaxCodeAdmin(ReadOnly):
    list_display = ("identifier", "description", "rate", "services", "expenses", "products")


@admin.register(BillingTerm)
class BillingTermAdmin(ReadOnly):
    list_display = ("name", "due_days", "default")


@admin.register(Currency)
class CurrencyAdmin(ReadOnly):
    list_display = ("code", "name", "decimals")


@admin.register(InvoiceRefresh)
class RefreshAdmin(ReadOnly):
    list_display = ("connection", "cw_id", "action", "announced", "first_at", "last_at")
