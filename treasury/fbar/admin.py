"""FBAR records in the admin. Settings, account details and balances change on the FBAR
pages (which re-run the monitor); the monitor's results and alerts are records."""

from django.contrib import admin

from accounts.admin import ReadOnlyRecordAdmin
from treasury.fbar.models import FbarAccount, FbarSettings, MonitorState, ThresholdAlert


@admin.register(FbarSettings)
class FbarSettingsAdmin(ReadOnlyRecordAdmin):
    list_display = ("__str__", "updated_at", "updated_by")


@admin.register(FbarAccount)
class FbarAccountAdmin(ReadOnlyRecordAdmin):
    list_display = ("account", "account_type", "added_here", "flag_decided_at")
    list_select_related = ("account",)


@admin.register(MonitorState)
class MonitorStateAdmin(ReadOnlyRecordAdmin):
    list_display = (
        "year", "as_of", "aggregate_usd", "is_estimate", "warned_on", "crossed_on",
        "filing_required", "form_8938_required", "computed_at",
    )  # fmt: skip


@admin.register(ThresholdAlert)
class ThresholdAlertAdmin(ReadOnlyRecordAdmin):
    list_display = ("year", "percent", "status", "reached_on", "aggregate_usd", "sent_at")
    list_filter = ("status", "year")
