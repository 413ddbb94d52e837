from django.urls import path

from treasury.fx import views

app_name = "fx"
urlpatterns = [
    path("rates/", views.rates, name="rates"),
    path("rates/fetch/", views.fetch, name="fetch"),
    path("rates/overrides/", views.override, name="override"),
    path("rates/overrides/<int:pk>/remove/", views.override_delete, name="override-remove"),
]
