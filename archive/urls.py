from django.urls import path

from archive import views

app_name = "archive"
urlpatterns = [
    path("archive/", views.matrix, name="matrix"),
    path("archive/download/", views.download, name="download"),
    path("archive/documents/<int:document_id>/", views.document, name="document"),
    path("archive/upload/", views.upload, name="upload"),
    path("archive/inbox/<int:document_id>/file/", views.inbox_file, name="inbox-file"),
    path("archive/rules/", views.rules, name="rules"),
    path("archive/layout/", views.layout, name="layout"),
    path("archive/retention/", views.retention, name="retention"),
]
