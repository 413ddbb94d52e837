from django.urls import path

from archive import views

app_name = "archive"
urlpatterns = [
    path("archive/", views.matrix, name="matrix"),
    path("archive/download/", views.download, name="download"),
]
