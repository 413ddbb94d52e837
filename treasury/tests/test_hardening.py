"""What an attacker and a proxy found: the throttle behind proxies, the headers every page
carries (CSP, no-store), and the check that refuses a malformed Fernet key."""

import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from treasury.security import client_address
from treasury.tests.test_project import _manage

PROXY = "10.0.0.2"  # the TLS terminator: every request reaches Django from it


def _login_via_proxy(client_ip: str, password: str, forged: str = ""):
    """A sign-in that went through one proxy, which appended the address it saw."""
    forwarded = f"{forged}, {client_ip}" if forged else client_ip
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded).post(
        reverse("login"), {"username": "olivia", "password": password, "otp_token": ""}
    )


def test_behind_a_proxy_one_client_cannot_lock_out_another(owner, settings):
    settings.PROXY_COUNT = 1
    for _ in range(5):
        _login_via_proxy("203.0.113.5", "wrong-password")
    assert _login_via_proxy("203.0.113.5", PASSWORD).status_code == 429  # the attacker: locked
    assert _login_via_proxy("198.51.100.7", PASSWORD).status_code == 302  # the owner: signs in


def test_a_forged_forwarded_for_does_not_dodge_the_throttle(owner, settings):
    settings.PROXY_COUNT = 1
    for n in range(5):  # each try claims another address left of the one the proxy added
        _login_via_proxy("203.0.113.5", "wrong-password", forged=f"192.0.2.{n}")
    assert _login_via_proxy("203.0.113.5", PASSWORD, forged="192.0.2.99").status_code == 429


@pytest.mark.parametrize(
    ("count", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "192.0.2.1", "203.0.113.5"),  # no proxy: the header is the client's
        (1, PROXY, "203.0.113.5", "203.0.113.5"),
        (1, PROXY, "192.0.2.1, 203.0.113.5", "203.0.113.5"),
        (2, PROXY, "192.0.2.1, 203.0.113.5, 10.0.0.1", "203.0.113.5"),
        (2, PROXY, "203.0.113.5", PROXY),  # fewer hops than proxies: it bypassed them
        (1, PROXY, "not-an-address", PROXY),
        (1, PROXY, "", PROXY),
        (1, PROXY, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(rf, settings, count, remote, forwarded, expected):
    settings.PROXY_COUNT = count
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


PAGES = ["/", "/transactions/", "/accounts/", "/rules/", "/rates/", "/fbar/", "/books/xero/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [*PAGES, "/cash/export/balances/", "/admin/", "/login/"])
def test_every_page_and_export_has_a_strict_csp_and_is_not_stored(owner_client, url):
    response = (Client() if url == "/login/" else owner_client).get(url)
    assert response.status_code == 200, url
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= cache


@pytest.mark.django_db
def test_error_pages_carry_the_headers_too(owner_client):
    response = owner_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


def test_forms_may_post_to_the_xero_login_page(owner_client, settings):
    settings.XERO_LOGIN_URL = "https://login.xero.example:8443/identity/connect"
    policy = owner_client.get("/books/xero/")["Content-Security-Policy"]
    form_action = next(p for p in policy.split(";") if p.strip().startswith("form-action"))
    assert form_action.split()[1:] == ["'self'", "https://login.xero.example:8443"]


def test_no_page_template_carries_inline_script_style_or_handlers():
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), path


def _check(tmp_path: Path, keys: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "DATABASE_URL"}}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),  # no "$": django-environ would expand it
        FIELD_ENCRYPTION_KEYS=keys,
        ALLOWED_HOSTS="bulwark.example.com",
        BULWARK_VAR_DIR=str(tmp_path),
    )
    return _manage("check", "--deploy", env=env)


@pytest.mark.parametrize(
    "keys",
    [
        "not-a-fernet-key",
        "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OTA=,c2hvcnQ=",  # the second is 5 bytes
    ],
)
def test_check_deploy_refuses_a_malformed_fernet_key(tmp_path, keys):
    result = _check(tmp_path, keys)
    assert result.returncode != 0
    assert "bulwark.E001" in result.stderr
