"""Request-level hardening: the client's real address behind proxies, `Cache-Control`
on every page, and the system check that refuses a malformed Fernet key.

**Client address.** With `PROXY_COUNT` = N trusted proxies in front, each appends the
address it received the request from to `X-Forwarded-For`, and the last one is
`REMOTE_ADDR`. So the client is the N-th entry from the right; whatever stands left of
it came from the client and is not believed (a forged header cannot pick the address the
login throttle counts against). A request that carries fewer entries than that did not
come through the proxies, and counts against `REMOTE_ADDR`. This is written here rather
than taken from django-ipware: ipware counts the proxies *inside* the header (so one
nginx needs `PROXY_COUNT=2`) and prefers public to private addresses, neither of which
matches how a reverse proxy forwards.

**Content-Security-Policy** (django-csp; the directives are in settings): scripts,
styles, images, fonts and connections from this origin only; no inline script, no
inline style, no `eval`, no plugins, no framing, no `<base>`. htmx and the SVG charts
need none of those (htmx's own indicator `<style>` is turned off in `_base.html` and its
rules live in app.css; widths and colours computed per row are set from `data-`
attributes by app.js). Forms post to this origin, and to Xero's login page, whose
origin is read per request because tests and the demo move it.

**Caching.** Every page and export shows money or secrets, so every response that does
not say otherwise gets `Cache-Control: no-store` (and `private`): no shared cache keeps
it, and the browser's back/forward history does not show it after sign-out. Static
files (WhiteNoise answers them before this middleware) keep their long cache lifetimes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core import checks
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the trusted proxies saw it (axes' `AXES_CLIENT_IP_CALLABLE`)."""
    remote = request.META.get("REMOTE_ADDR")
    count = getattr(settings, "PROXY_COUNT", 0)
    if count <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < count:
        return remote
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy that forwards garbage: fall back to what we can see
        return remote


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the Xero login origin allowed as a form target."""

    def get_policy_parts(
        self, request: Any, response: Any, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        login = urlsplit(settings.XERO_LOGIN_URL)
        if login.scheme and login.netloc:
            update = dict(parts.update or {})
            update["form-action"] = [
                *update.get("form-action", []),
                f"{login.scheme}://{login.netloc}",
            ]
            parts.update = update
        return parts


class NoStoreMiddleware:
    """`Cache-Control: no-store, private` on every response that sets no policy itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response


@checks.register(checks.Tags.security)
def fernet_keys_check(**_: Any) -> list[checks.CheckMessage]:
    """Every `FIELD_ENCRYPTION_KEYS` entry must be a Fernet key (32 url-safe base64 bytes)."""
    problems = []
    for index, key in enumerate(settings.FIELD_ENCRYPTION_KEYS, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS entry {index} is not a Fernet key "
                    "(32 bytes, url-safe base64).",
                    hint='Make one with `python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"`.',
                    id="bulwark.E001",
                )
            )
    return problems
