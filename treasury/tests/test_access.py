"""Central access rules, proved over every URL pattern of the project (admin included).

New URLs are covered automatically: the walk reads the URLconf. A view may opt out of
login (`login_not_required`) or of the read-only rule (`read_only_allowed`) only if it
is listed here, so an opt-out is always a reviewed decision.
"""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from treasury.access import REFUSED_HEADER
from treasury.tests.urlwalk import Route, all_routes

PUBLIC = {"login", "healthz", "accounts:wise_webhook", "operations:callback"}
# Signing out, and a user's own password and two-factor login (the admin's links too).
READ_ONLY_ALLOWED = {
    "logout",
    "security",
    "password_change",
    "admin:logout",
    "admin:password_change",
}
UNSAFE = ("post", "put", "patch", "delete")

ROUTES = all_routes()


def _ids(route: Route) -> str:
    return route.name


def test_the_walk_covers_every_pattern_of_the_urlconf():
    from django.urls import get_resolver

    from treasury.tests.urlwalk import _walk

    walked = list(_walk(get_resolver().url_patterns, "", ""))
    unresolved = [route.name for route in walked if route not in ROUTES]
    assert unresolved == []
    assert len(ROUTES) > 30  # the admin alone has dozens; a broken walk finds few


def test_public_views_are_exactly_the_reviewed_list():
    assert {
        r.name for r in ROUTES if not r.login_required and not r.name.startswith("admin:")
    } == PUBLIC


def test_read_only_exemptions_are_exactly_the_reviewed_list():
    assert {r.name for r in ROUTES if r.read_only_allowed} == READ_ONLY_ALLOWED


def _lands_on_login(response) -> bool:
    login = reverse(settings.LOGIN_URL)
    chain = [url for url, _ in response.redirect_chain]
    return bool(chain) and chain[-1].split("?")[0] == login and response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.name not in PUBLIC], ids=_ids)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login(route: Route, method: str):
    response = getattr(Client(), method)(route.url, follow=True)
    assert _lands_on_login(response), (route.url, response.status_code, response.redirect_chain)


@pytest.mark.django_db
def test_anonymous_with_an_absurdly_long_url_is_sent_to_login_without_next():
    """Found by the fuzz suite: Django refuses to redirect past 16,384 characters (a 500)."""
    response = Client().get("/?as_of=" + "x" * 17_000)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse(settings.LOGIN_URL)}?next=/"


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.name not in READ_ONLY_ALLOWED], ids=_ids)
def test_accountant_is_refused_every_unsafe_method(route: Route, accountant):
    client = Client()
    for method in UNSAFE:
        client.force_login(accountant)
        response = getattr(client, method)(route.url)
        assert response.status_code == 403, (method, route.url, response.status_code)
        assert response[REFUSED_HEADER] == "read-only-role"


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=_ids)
def test_accountant_can_read(route: Route, accountant):
    client = Client()
    client.force_login(accountant)
    response = client.get(route.url)
    assert response.status_code < 500, (route.url, response.status_code)
    assert not response.get("Location", "").startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=_ids)
def test_owner_is_allowed_every_method(route: Route, owner):
    client = Client()
    for method in ("get", *UNSAFE):
        client.force_login(owner)
        response = getattr(client, method)(route.url)
        assert not response.has_header(REFUSED_HEADER), (method, route.url)
        assert response.status_code < 500, (method, route.url, response.status_code)


@pytest.mark.django_db
def test_accountant_admin_is_view_only(accountant_client):
    page = accountant_client.get(reverse("admin:auth_user_changelist"))
    assert page.status_code == 200
    assert accountant_client.get(reverse("admin:auth_user_add")).status_code == 403
    assert not page.context["has_add_permission"]


@pytest.mark.django_db
def test_owner_sees_write_controls_and_accountant_sees_banner(owner_client, accountant_client):
    assert b"Read-only access" not in owner_client.get("/").content
    assert b"Read-only access" in accountant_client.get("/").content
