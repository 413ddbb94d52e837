from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("accounts/", views.account_list, name="list"),
    path("accounts/sync/", views.sync_now, name="sync"),
    path("accounts/sync/progress/", views.sync_progress, name="sync_progress"),
    path("accounts/<int:account_id>/sync/", views.account_sync, name="account_sync"),
    path("accounts/wise/", views.wise_connect, name="wise_connect"),
    path("accounts/wise/profiles/", views.wise_profiles, name="wise_profiles"),
    path("accounts/wise/<int:connection_id>/keypair/", views.wise_keypair, name="wise_keypair"),
    path(
        "accounts/wise/<int:connection_id>/disconnect/",
        views.wise_disconnect,
        name="wise_disconnect",
    ),
    path("transactions/", views.transaction_list, name="transactions"),
    path("webhooks/wise/", views.wise_webhook, name="wise_webhook"),
]
