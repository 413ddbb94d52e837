"""Roles and their central enforcement.

Two roles: the **owner** (a superuser, full control) and the **accountant** (staff with
view permissions only). Writing is allowed to owners alone; every other signed-in user
is read-only. `ReadOnlyRoleMiddleware` enforces that for every URL at once, so a new
view cannot forget it; the admin gets the same answer from permissions.
"""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.defaults import permission_denied

logger = logging.getLogger(__name__)

OWNER = "owner"
ACCOUNTANT = "accountant"
# Set on every refusal by the role rule, so tests and logs tell it from other 403s.
REFUSED_HEADER = "X-Bulwark-Refused"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Apps whose rows are other people's credentials: not even the accountant may view them.
SECRET_APPS = ("otp_totp", "otp_static", "sessions")

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The user's role, or None for anonymous users and users without one."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:  # type: ignore[union-attr]
        return OWNER
    if user.groups.filter(name=ACCOUNTANT).exists():  # type: ignore[union-attr]
        return ACCOUNTANT
    return None


def can_write(user: AbstractBaseUser | AnonymousUser) -> bool:
    return role_of(user) == OWNER


def read_only_allowed(view: ViewFunc) -> ViewFunc:
    """Mark a view whose unsafe requests change nothing of the business: signing out, and
    a user's own password and two-factor sign-in, which every role manages for itself."""
    view.read_only_allowed = True  # type: ignore[attr-defined]
    return view


# Longer than any page's own URL; Django refuses to redirect past 16,384 characters.
LOGIN_NEXT_MAX_CHARS = 2000


class LoginRequired(LoginRequiredMiddleware):
    """Django's login requirement, sending an anonymous visitor of an absurdly long URL to
    the login page without `next` (Django would raise DisallowedRedirect: a 500)."""

    def handle_no_permission(self, request: HttpRequest, view_func: Callable) -> HttpResponse:
        if len(request.get_full_path()) > LOGIN_NEXT_MAX_CHARS:
            return redirect_to_login("/", self.get_login_url(view_func))
        return super().handle_no_permission(request, view_func)


class ReadOnlyRoleMiddleware:
    """Refuse every unsafe HTTP method from a signed-in user who is not an owner."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if request.method in SAFE_METHODS or not request.user.is_authenticated:
            return None
        if can_write(request.user) or getattr(view_func, "read_only_allowed", False):
            return None
        logger.warning(
            "Refused %s %s for read-only user %s", request.method, request.path, request.user
        )
        response = permission_denied(
            request, PermissionDenied("Your role is read-only: this action is for the owner.")
        )
        response[REFUSED_HEADER] = "read-only-role"
        return response


def role_groups_sync(**kwargs: Any) -> None:
    """Keep the role groups in step with the installed models' permissions."""
    owner, _ = Group.objects.get_or_create(name=OWNER)
    accountant, _ = Group.objects.get_or_create(name=ACCOUNTANT)
    owner.permissions.set(Permission.objects.all())
    accountant.permissions.set(
        Permission.objects.filter(codename__startswith="view_").exclude(
            content_type__app_label__in=SECRET_APPS
        )
    )
