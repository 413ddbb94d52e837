from django.urls import path, re_path

from treasury.fbar import views

app_name = "fbar"
urlpatterns = [
    path("fbar/", views.report, name="report"),
    path("fbar/<int:year>/", views.report, name="report-year"),
    re_path(
        r"^fbar/(?P<year>[0-9]{1,4})/export\.(?P<extension>csv|pdf)$", views.export, name="export"
    ),
    path("fbar/settings/", views.settings_save, name="settings"),
    path("fbar/filing/", views.filing_save, name="filing"),
    path("fbar/monitor/run/", views.monitor_run_now, name="monitor-run"),
    path("fbar/accounts/add/", views.account_add, name="account-add"),
    path("fbar/accounts/<int:pk>/", views.account_edit, name="account"),
    path("fbar/accounts/<int:pk>/flag/", views.account_flag, name="account-flag"),
    path("fbar/accounts/<int:pk>/balances/", views.balance_add, name="balance-add"),
    path(
        "fbar/accounts/<int:pk>/balances/<int:snapshot_pk>/delete/",
        views.balance_delete,
        name="balance-delete",
    ),
]
