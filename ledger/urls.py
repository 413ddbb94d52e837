from django.urls import path

from ledger import views

app_name = "ledger"
urlpatterns = [
    path("books/xero/", views.xero, name="xero"),
    path("books/xero/connect/", views.xero_connect, name="xero_connect"),
    path("books/xero/callback/", views.xero_callback, name="xero_callback"),
    path("books/xero/organisation/", views.xero_tenant, name="xero_tenant"),
    path("books/xero/custom/", views.xero_custom, name="xero_custom"),
    path("books/xero/disconnect/", views.xero_disconnect, name="xero_disconnect"),
    path("books/xero/mode/", views.xero_mode, name="xero_mode"),
    path("books/xero/settings/", views.xero_settings_refresh, name="xero_settings_refresh"),
    path("books/xero/mapping/", views.xero_mapping, name="xero_mapping"),
    path("books/xero/push/", views.xero_push, name="xero_push"),
    path("books/xero/pull/", views.xero_pull, name="xero_pull"),
    path("books/xero/repost/", views.xero_repost, name="xero_repost"),
    path("books/xero/retry/", views.xero_retry, name="xero_retry"),
]
