from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from treasury.models import Heartbeat

# TOTP secrets are managed on the Security page by their own user only; the stock admin
# would show any staff member with view rights a scannable copy of the owner's secret.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "seen_at")
