"""The main navigation, one list for the whole site.

An entry whose URL name does not resolve is left out, so a screen appears in the
navigation as soon as its URL is wired, with no template change.
"""

from functools import cache
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from treasury.access import OWNER, role_of

NAV_ITEMS: tuple[tuple[str, str], ...] = (
    ("Dashboard", "home"),
    ("Accounts", "accounts:list"),
    ("Transactions", "accounts:transactions"),
    ("Import", "statements:upload"),
    ("Rules", "rules:list"),
    ("Books", "ledger:xero"),
    ("Reconciliation", "reconciliation:queue"),
    ("Work", "operations:invoices"),
    ("Rates", "fx:rates"),
    ("FBAR", "fbar:report"),
    ("Archive", "archive:matrix"),
)


@cache
def _resolved() -> tuple[tuple[str, str], ...]:
    items = []
    for label, name in NAV_ITEMS:
        try:
            items.append((label, reverse(name)))
        except NoReverseMatch:
            continue
    return tuple(items)


def navigation(request: HttpRequest) -> dict[str, Any]:
    role = role_of(request.user) if hasattr(request, "user") else None
    path = request.path
    items = [
        {"label": label, "url": url, "active": path == url or (url != "/" and path.startswith(url))}
        for label, url in _resolved()
    ]
    return {"nav_items": items, "user_role": role, "can_write": role == OWNER}
