"""Rates in the admin: searchable and read-only. Feed rates are what their source said;
overrides change only through the rates page, which logs who, when and why."""

from django.contrib import admin

from accounts.admin import ReadOnlyRecordAdmin
from treasury.fx.convert import rate_display
from treasury.fx.models import OverrideLog, Rate


@admin.register(Rate)
class RateAdmin(ReadOnlyRecordAdmin):
    list_display = (
        "date",
        "source",
        "pair",
        "shown_rate",
        "record_date",
        "fetched_at",
        "entered_by",
    )
    list_filter = ("source", "base", "quote")
    search_fields = ("quote", "base", "source_key", "reason")
    date_hierarchy = "date"
    list_select_related = ("entered_by",)
    show_full_result_count = False  # no COUNT(*) over 200,000 ECB rows per page view

    @admin.display(description="Pair", ordering="quote")
    def pair(self, obj: Rate) -> str:
        return f"1 {obj.base} → {obj.quote}"

    @admin.display(description="Rate", ordering="rate")
    def shown_rate(self, obj: Rate) -> str:
        return rate_display(obj.rate)


@admin.register(OverrideLog)
class OverrideLogAdmin(ReadOnlyRecordAdmin):
    list_display = (
        "at",
        "user",
        "action",
        "base",
        "quote",
        "date",
        "old_rate",
        "new_rate",
        "reason",
    )
    list_filter = ("action", "user")
    list_select_related = ("user",)
