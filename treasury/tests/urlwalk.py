"""Every URL pattern of the project as a concrete URL, for tests that must cover them all."""

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

SAMPLES = {
    "int": "1",
    "str": "sample",
    "slug": "sample",
    "path": "sample",
    "uuid": str(uuid.UUID(int=1)),
}


@dataclass(frozen=True)
class Route:
    url: str
    name: str  # "namespace:name", or the pattern text when unnamed
    callback: Callable[..., Any]

    @property
    def login_required(self) -> bool:
        return getattr(self.callback, "login_required", True)

    @property
    def read_only_allowed(self) -> bool:
        return getattr(self.callback, "read_only_allowed", False)


def _sample_route(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES.get(m.group(1) or "str", "1"), route)


def _sample_regex(regex: str) -> str:
    text = regex.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")

    def group(match: re.Match[str]) -> str:
        body = match.group(2)
        if body.startswith(r"\d") or body.startswith("[0-9]"):
            return "1"
        if "|" in body:  # an alternation such as admin's app labels: take the first
            return body.split("|")[0]
        return "sample"

    text = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, text)
    return text.replace("?", "")


def _walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            part = _sample_route(str(pattern))
        elif isinstance(pattern, RegexPattern):
            part = _sample_regex(pattern.regex.pattern)
        else:  # LocalePrefixPattern and the like
            part = str(pattern)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + part, ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else f"{namespace}<{pattern}>"
            yield Route(url="/" + prefix + part, name=name, callback=entry.callback)


def all_routes() -> list[Route]:
    """Each pattern once, with a URL that resolves to that very pattern's view."""
    routes = []
    for route in _walk(get_resolver().url_patterns, "", ""):
        match = resolve(route.url)
        if match.func is route.callback:
            routes.append(route)
    return routes
