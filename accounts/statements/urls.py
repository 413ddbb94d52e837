from django.urls import path

from accounts.statements import views

app_name = "statements"
urlpatterns = [
    path("accounts/import/", views.statement_upload, name="upload"),
]
