from django.urls import path

from ledger.rules import views

app_name = "rules"
urlpatterns = [
    path("rules/", views.rule_list, name="list"),
    path("rules/new/", views.rule_create, name="create"),
    path("rules/preview/", views.rule_preview, name="preview"),
    path("rules/reorder/", views.rule_reorder, name="reorder"),
    path("rules/defaults/", views.rules_defaults, name="defaults"),
    path("rules/apply/", views.rules_apply, name="apply"),
    path("rules/runs/<int:pk>/", views.run_status, name="run"),
    path("rules/uncategorized/", views.uncategorized, name="uncategorized"),
    path("rules/audit/", views.audit, name="audit"),
    path("rules/lines/<int:pk>/", views.line_detail, name="line"),
    path("rules/<int:pk>/", views.rule_edit, name="edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="delete"),
    path("rules/<int:pk>/move/", views.rule_move, name="move"),
]
