"""Fuzz: every view of the URLconf, driven with generated query parameters and form data
as each role. Properties: never a 500; an accountant never writes a row of the business
(only their session and the throttle's bookkeeping); an anonymous visitor reaches
nothing but the public views; hostile text comes back escaped. Size: `treasury.tests.fuzz`
(`BULWARK_FUZZ_SCALE`, `make fuzz`)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line
from ledger.rules.tests.factories import act, cond, rule_make
from treasury.fx.tests.factories import ecb
from treasury.tests.fuzz import MARKER, PARAMETERS, examples, query, value_for
from treasury.tests.urlwalk import Route, all_routes

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

ROUTES = all_routes()
PUBLIC = {"login", "healthz", "accounts:wise_webhook"}
# Unsafe requests of these would leave the test client signed out or post to Wise.
OWNER_POST_SKIP = {"logout", "accounts:wise_webhook"}
# Tables a read may write: the signed-in session, axes' bookkeeping, last_login.
WRITE_ALLOWED = re.compile(r'^(INSERT INTO|UPDATE|DELETE FROM) "?(django_session|axes_|auth_user)')
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


@pytest.fixture
def books(db, settings):
    """A little of everything, so ids in the walked URLs and parameters meet rows; every
    outside service points at a closed port, so a fuzzed form fails fast, offline."""
    for name in ("WISE_API_URL", "XERO_API_URL", "XERO_IDENTITY_URL", "ECB_URL"):
        setattr(settings, name, "http://127.0.0.1:9")
    settings.TREASURY_API_URL = "http://127.0.0.1:9"
    settings.HTTP_TIMEOUT_SECONDS = 1
    eur = CashAccountFactory(currency="EUR", name="EUR <b>balance</b>")
    transactions_ingest(
        account=eur,
        lines=[line("1000.00", day=0, ref="e1"), line("-12.00", day=3, ref="e2")],
        source="API",
    )
    ecb(eur.transactions.first().booked_on, USD="1.0300", GBP="0.83000")
    rule_make(
        "Figma", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "485")]
    )


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _writes(queries) -> list[str]:
    return [
        q["sql"][:120]
        for q in queries
        if WRITE.match(q["sql"]) and not WRITE_ALLOWED.match(q["sql"].lstrip())
    ]


def _check_escaped(response) -> None:
    if response.get("Content-Type", "").startswith("text/html"):
        assert MARKER.encode() not in response.content, "hostile markup came back unescaped"


def _url(route: Route, params: list[tuple[str, str]]) -> str:
    return f"{route.url}?{urlencode(params)}" if params else route.url


APP = [r for r in ROUTES if not r.name.startswith("admin:")]
ADMIN = [r for r in ROUTES if r.name.startswith("admin:")]
# Half the cases go to Bulwark's own views (a few dozen), half to the admin's hundreds.
routes = st.one_of(st.sampled_from(APP), st.sampled_from(ADMIN))
FIELD = re.compile(rb'<(?:input|select|textarea)[^>]*\bname="([^"]+)"(?:[^>]*\bvalue="([^"]*)")?')
LINK_QUERY = re.compile(rb'href="([^"?#]*)\?([^"#]+)"')
_names: dict[tuple[str, str], dict[str, str]] = {}
_linked: dict[str, dict[str, str]] = {}  # path -> parameters other pages' links give it


def _page_names(client: Client, url: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The form fields of the page at `url` (name -> value shown), and its links'
    parameters by the path they point to."""
    page = client.get(url)
    html = not page.streaming and page.get("Content-Type", "").startswith("text/html")
    body = page.content if html else b""
    fields = {n.decode(): v.decode() for n, v in FIELD.findall(body)}
    fields.pop("csrfmiddlewaretoken", None)
    links: dict[str, dict[str, str]] = {}
    for path, link in LINK_QUERY.findall(body):
        target = links.setdefault(path.decode() or url, {})
        for part in link.split(b"&amp;"):
            name, _, shown = part.decode().partition("=")
            target.setdefault(name, shown)
    return fields, links


def _crawl(client: Client) -> None:
    """Once: the parameters every app page's links give each path."""
    if _linked:
        return
    for route in APP:
        if "<" in route.name or route.name in OWNER_POST_SKIP:
            continue
        for path, names in _page_names(client, route.url)[1].items():
            for name, shown in names.items():
                _linked.setdefault(path, {}).setdefault(name, shown)


def _names_of(client: Client, route: Route, kind: str) -> dict[str, str]:
    """What `route` takes: its page's form fields ("form"), or those and the parameters
    links anywhere in the app give it ("query"); read once per route."""
    key = (route.url, kind)
    if key not in _names:
        fields = _page_names(client, route.url)[0]
        if kind == "query":
            _crawl(client)
            fields = {**_linked.get(route.url, {}), **fields}
        _names[key] = fields
    return _names[key]


def _params(client: Client, route: Route, data: st.DataObject) -> list[tuple[str, str]]:
    """Parameters for `route`: its page's own names first, and the ones views read."""
    own = _names_of(client, route, "query")
    names = st.sampled_from(sorted(own) if own else PARAMETERS)
    # Half the cases change one parameter (most defects need just one), half several.
    single = st.lists(names, min_size=1, max_size=1)
    several = st.lists(st.one_of(names, names, st.sampled_from(PARAMETERS)), max_size=6)
    chosen = data.draw(st.one_of(single, several), label="names")
    return [(name, data.draw(value_for(name, own.get(name, "")), label=name)) for name in chosen]


def _read(client: Client, route: Route, data: st.DataObject) -> list[str]:
    params = _params(client, route, data)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(route, params))
    assert response.status_code < 500, (route.url, params, response.status_code)
    _check_escaped(response)
    return _writes(queries)


@pytest.mark.parametrize("route", APP, ids=lambda r: r.name)
@examples(8)
@given(data=st.data())
def test_accountant_reads_each_view_with_generated_parameters(books, accountant, route, data):
    assert _read(_client(accountant), route, data) == []


@examples(40)
@given(route=routes, data=st.data())
def test_any_view_with_generated_parameters_as_each_role(books, owner, accountant, route, data):
    user = data.draw(st.sampled_from([owner, accountant]), label="user")
    writes = _read(_client(user), route, data)
    if user == accountant:
        assert writes == []


@examples(30)
@given(
    # The reviewed exemptions (test_access: signing out, the accountant's own password
    # and two-factor device) are the only writes an accountant may make.
    route=st.one_of(
        st.sampled_from([r for r in APP if not r.read_only_allowed]),
        st.sampled_from([r for r in ADMIN if not r.read_only_allowed]),
    ),
    params=query,
    method=st.sampled_from(["post", "put", "patch", "delete"]),
)
def test_accountant_writes_nothing_whatever_is_sent(books, accountant, route, params, method):
    client = _client(accountant)
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(route.url, dict(params))
    assert response.status_code == 403, (method, route.url, response.status_code)
    assert _writes(queries) == []


@examples(30)
@given(route=st.sampled_from([r for r in ROUTES if r.name not in PUBLIC]), params=query)
def test_anonymous_reaches_only_the_login(db, route, params):
    response = _client(None).get(_url(route, params))
    assert response.status_code in (301, 302), (route.url, response.status_code)
    assert "/login/" in response["Location"] or route.name.startswith("admin:")


@examples(60)
@given(
    route=st.sampled_from([r for r in ROUTES if r.name not in OWNER_POST_SKIP]),
    data=st.data(),
)
def test_owner_submits_any_form_with_generated_values(books, owner, route, data):
    client = _client(owner)
    fields = _names_of(client, route, "form")
    names = data.draw(
        st.lists(st.sampled_from(sorted(fields)), unique=True) if fields else st.just([])
    )
    form = {name: data.draw(value_for(name, fields[name]), label=name) for name in names}
    response = client.post(route.url, form)
    assert response.status_code < 500, (route.url, form, response.status_code)
    _check_escaped(response)
