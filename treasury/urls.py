from django.contrib import admin
from django.urls import include, path

from treasury import views
from treasury.cashview import views as cashview_views

admin.site.site_header = "Bulwark administration"
admin.site.site_title = "Bulwark admin"
admin.site.index_title = "Records and the mismatch queue"
handler400 = "treasury.views.bad_request"
admin.site.enable_nav_sidebar = False  # the queue's columns need the width (1280 and 390 px)
admin.site.login = views.admin_login_redirect  # type: ignore[method-assign]
admin.site.logout = views.admin_logout  # type: ignore[method-assign,assignment]
admin.site.password_change = views.admin_password_change  # type: ignore[method-assign,assignment]

urlpatterns = [
    path("", cashview_views.dashboard, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/security/", views.security, name="security"),
    path("account/password/", views.password_change, name="password_change"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("accounts.statements.urls")),
    path("", include("ledger.urls")),
    path("", include("ledger.rules.urls")),
    path("", include("ledger.reconciliation.urls")),
    path("", include("treasury.fx.urls")),
    path("", include("treasury.cashview.urls")),
    path("", include("treasury.fbar.urls")),
    path("", include("operations.urls")),
    path("", include("archive.urls")),
]
