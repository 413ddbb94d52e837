from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import BadRequest
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login

from treasury import totp
from treasury.access import read_only_allowed
from treasury.forms import LoginForm, TotpConfirmForm
from treasury.params import param_text

NEXT_MAX = 1000  # a `next` address; the login page checks it is ours before following it


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        auth_login(self.request, form.get_user())
        if form.otp_device is not None:
            otp_login(self.request, form.otp_device)
        return HttpResponseRedirect(self.get_success_url())


logout_view = read_only_allowed(auth_views.LogoutView.as_view())


class PasswordChangeView(auth_views.PasswordChangeView):
    """Every signed-in user changes their own password (the accountant too)."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("security")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, "Your password is changed.")
        return super().form_valid(form)


password_change = read_only_allowed(PasswordChangeView.as_view())


@read_only_allowed
def admin_password_change(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin's "Change password" link leads to Bulwark's own page, open to every role."""
    return redirect("password_change")


@read_only_allowed
def admin_logout(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin's "Log out" signs out like every other page, whatever the role."""
    return logout_view(request)


@login_not_required
def admin_login_redirect(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin signs in through Bulwark's own login page (throttle and TOTP apply)."""
    if request.user.is_authenticated:
        return redirect("admin:index")
    next_url = param_text(request.GET, "next", max_length=NEXT_MAX) or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


@read_only_allowed
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """Two-factor login for the signed-in user, whatever their role: turn on (scan,
    confirm), or turn off. It changes only the user's own sign-in."""
    user = request.user
    context: dict[str, Any] = {"enabled": totp.is_enabled(user), "form": TotpConfirmForm()}
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "start":
            device = totp.device_start(user=user)
            context.update(pending=device, qr_svg=totp.qr_svg(device))
        elif action in ("confirm", "disable"):
            form = TotpConfirmForm(request.POST)
            context["form"] = form
            if form.is_valid():
                token = form.cleaned_data["token"]
                if action == "confirm" and totp.device_confirm(user=user, token=token):
                    messages.success(request, "Two-factor login is on.")
                    return redirect("security")
                if action == "disable" and totp.disable(user=user, token=token):
                    messages.success(request, "Two-factor login is off.")
                    return redirect("security")
                form.add_error("token", "That code did not match. Try the current one.")
            pending = totp.pending_device(user)
            if action == "confirm" and pending is not None:
                context.update(pending=pending, qr_svg=totp.qr_svg(pending))
    return render(request, "treasury/security.html", context)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 400 page: names what was wrong (a `treasury.params.BadParameter`, or any
    `BadRequest`) and links to the page with its defaults."""
    message = str(exception) if isinstance(exception, BadRequest) else ""
    return render(request, "400.html", {"message": message}, status=400)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability for the container health check."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
