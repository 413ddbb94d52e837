"""FBAR records in the admin. Settings, account details, balances and filings change on
the FBAR pages (which re-run the monitor); the monitor's results and alerts are records.
Dollar figures are written as the pages write them ($12,408)."""

from django.contrib import admin

from accounts.admin import ReadOnlyRecordAdmin
from treasury.fbar.models import (
    FbarAccount,
    FbarFiling,
    FbarSettings,
    MonitorState,
    ThresholdAlert,
)
from treasury.fbar.selectors import dollars


@admin.display(description="Aggregate", ordering="aggregate_usd")
def aggregate(obj: MonitorState | ThresholdAlert) -> str:
    return dollars(obj.aggregate_usd)


@admin.register(FbarSettings)
class FbarSettingsAdmin(ReadOnlyRecordAdmin):
    list_display = ("__str__", "updated_at", "updated_by")


@admin.register(FbarAccount)
class FbarAccountAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "account_type", "added_here", "flag_decided_at")
    list_select_related = ("account",)


@admin.register(FbarFiling)
class FbarFilingAdmin(ReadOnlyRecordAdmin):
    list_display = ("year", "filed_on", "reference", "recorded_by", "recorded_at")


@admin.register(MonitorState)
class MonitorStateAdmin(ReadOnlyRecordAdmin):
    list_display = (
        "year", "as_of", aggregate, "is_estimate", "warned_on", "crossed_on",
        "filing_required", "form_8938_status", "computed_at",
    )  # fmt: skip


@admin.register(ThresholdAlert)
class ThresholdAlertAdmin(ReadOnlyRecordAdmin):
    list_display = ("year", "percent", "status", "reached_on", aggregate, "sent_at")
    list_filter = ("status", "year")
