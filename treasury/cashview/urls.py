from django.urls import path

from treasury.cashview import views

app_name = "cashview"
urlpatterns = [
    path("cash/export/balances/", views.export_balances, name="export_balances"),
    path("cash/export/transactions/", views.export_transactions, name="export_transactions"),
]
