from django.urls import path

from operations import views

app_name = "operations"
urlpatterns = [
    path("work/", views.invoices, name="invoices"),
    path("work/receivables/", views.receivables_panel, name="receivables"),
    path("work/connectwise/", views.connect, name="connect"),
    path("work/connectwise/sync/", views.sync_now, name="sync"),
    path("work/connectwise/<int:connection_id>/callback/", views.callback, name="callback"),
]
