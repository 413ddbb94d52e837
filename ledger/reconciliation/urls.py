from django.urls import path

from ledger.reconciliation import views

app_name = "reconciliation"
urlpatterns = [
    path("reconciliation/", views.queue, name="queue"),
    path("reconciliation/run/", views.run, name="run"),
]
