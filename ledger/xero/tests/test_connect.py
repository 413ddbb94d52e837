"""Connecting to Xero over real HTTP: PKCE and state, tenant choice, encrypted tokens,
refresh under a lease (one refresh for concurrent callers), lost replies, disconnect."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db_connection
from django.test import Client

from ledger import services
from ledger.models import BooksConnection, Organisation
from ledger.tests.helpers import in_threads
from ledger.xero import oauth
from ledger.xero.client import AuthorizationFailed
from ledger.xero.session import client_open
from ledger.xero.tokens import StoredTokens
from simulators.xero import seed
from simulators.xero.fixtures import xero_authorize, xero_connect_first_org


@pytest.mark.django_db
def test_connect_uses_pkce_and_state_and_asks_which_organisation(owner_client, xero_sim):
    start = owner_client.post("/books/xero/connect/")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]
    assert query["state"][0]
    assert query["response_type"] == ["code"]
    scopes = set(query["scope"][0].split())
    assert "offline_access" in scopes
    assert "accounting.banktransactions" in scopes
    assert not scopes & {"accounting.transactions", "accounting.reports.read"}

    xero_authorize(owner_client, xero_sim)
    connection = BooksConnection.objects.get()
    assert connection.status == BooksConnection.Status.CHOOSING
    assert {t["tenant_name"] for t in connection.tenants} == {
        "Demo Company (US)",
        "Acme Consulting Ltd (UK)",
    }
    page = owner_client.get("/books/xero/")
    assert b"Acme Consulting Ltd (UK)" in page.content

    owner_client.post("/books/xero/organisation/", {"tenant_id": xero_sim.tenant_ids[0]})
    connection.refresh_from_db()
    organisation = connection.organisation
    assert connection.status == BooksConnection.Status.CONNECTED
    assert organisation.base_currency == "USD"
    assert organisation.multicurrency_allowed
    assert organisation.accounts.filter(type="BANK").count() == 1
    assert organisation.mode == Organisation.Mode.AUDIT_ONLY  # until the owner chooses
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM ledger_booksconnection")
        stored = cursor.fetchone()
    assert all(value.startswith("fernet:") for value in stored)
    assert connection.access_token not in stored[0]


@pytest.mark.django_db
def test_a_reply_with_another_state_is_refused_and_changes_nothing(owner_client, xero_sim):
    start = owner_client.post("/books/xero/connect/")
    import httpx

    consent = httpx.get(start["Location"], follow_redirects=False)
    query = parse_qs(urlsplit(consent.headers["Location"]).query)
    response = owner_client.get(
        "/books/xero/callback/", {"code": query["code"][0], "state": "forged"}, follow=True
    )
    assert b"did not match this sign-in" in response.content
    assert not BooksConnection.objects.exists()


@pytest.mark.django_db
def test_a_wrong_pkce_verifier_is_refused_by_xero(owner_client, xero_sim):
    started = oauth.authorization_start(redirect_uri="http://testserver/books/xero/callback/")
    import httpx

    consent = httpx.get(started.url, follow_redirects=False)
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    with pytest.raises(oauth.InvalidGrant):
        oauth.code_exchange(
            code=code, redirect_uri="http://testserver/books/xero/callback/", code_verifier="x" * 64
        )


@pytest.mark.django_db
def test_broad_scopes_of_old_apps_are_refused(owner_client, xero_sim, settings):
    settings.XERO_SCOPES = ["offline_access", "accounting.transactions"]
    response = xero_authorize(owner_client, xero_sim)
    assert "invalid_scope" in response.wsgi_request.GET.get("error", "")
    assert not BooksConnection.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_expired_token_is_refreshed_once_for_two_concurrent_callers(owner, xero_sim):
    client = Client()
    client.force_login(owner)
    xero_connect_first_org(client, xero_sim)
    organisation = Organisation.objects.get()
    connection = organisation.connections.get()
    old_refresh = connection.refresh_token
    xero_sim.latency = 0.2  # both callers hold a stale token at the same moment
    xero_sim.expire_access_tokens()

    def currencies() -> list[str]:
        with client_open(organisation) as api:
            return api.currencies()

    results, errors = in_threads(currencies, 2)
    assert errors == []
    assert results == [["USD"], ["USD"]]
    assert xero_sim.token_refreshes == 1
    connection.refresh_from_db()
    assert connection.refresh_count == 1
    assert connection.refresh_token != old_refresh
    assert connection.refresh_lease_until is None


@pytest.mark.django_db
def test_a_lost_refresh_reply_is_recovered_with_the_same_refresh_token(
    owner_client, xero_sim, settings
):
    organisation = _connected(owner_client, xero_sim)
    settings.HTTP_TIMEOUT_SECONDS = 1
    xero_sim.expire_access_tokens()
    connection = organisation.connections.get()
    connection.access_expires_at = None
    connection.save()
    xero_sim.script_fault("POST", r"^/connect/token$", kind="late", delay=1.5)
    with client_open(organisation) as api:
        assert api.currencies() == ["USD"]
    assert xero_sim.token_refreshes == 2  # the lost one, then the retry in its grace period


@pytest.mark.django_db
def test_a_refresh_token_past_its_grace_asks_the_owner_to_sign_in_again(owner_client, xero_sim):
    organisation = _connected(owner_client, xero_sim)
    connection = organisation.connections.get()
    stale_refresh = connection.refresh_token
    StoredTokens(connection.pk).refreshed(connection.access_token)  # rotates
    BooksConnection.objects.filter(pk=connection.pk).update(refresh_token=stale_refresh)
    connection.refresh_from_db()
    xero_sim.advance(31 * 60)  # past the 30-minute grace of the replaced refresh token
    with pytest.raises(AuthorizationFailed):
        StoredTokens(connection.pk).refreshed(connection.access_token)
    connection.refresh_from_db()
    assert connection.status == BooksConnection.Status.RECONSENT
    page = owner_client.get("/books/xero/")
    assert b"Sign in to Xero again" in page.content


@pytest.mark.django_db
def test_disconnect_deletes_the_connection_at_xero_and_forgets_the_tokens(owner_client, xero_sim):
    organisation = _connected(owner_client, xero_sim)
    assert len(xero_sim.connections) == 2
    owner_client.post("/books/xero/disconnect/")
    connection = organisation.connections.get()
    assert connection.status == BooksConnection.Status.DISCONNECTED
    assert connection.access_token == ""
    assert connection.refresh_token == ""
    assert [c.tenant_id for c in xero_sim.connections.values()] == [xero_sim.tenant_ids[1]]
    assert b"Connect to Xero" in owner_client.get("/books/xero/").content


@pytest.mark.django_db
def test_a_custom_connection_uses_client_credentials(owner_client, xero_sim, settings):
    settings.XERO_CLIENT_ID, settings.XERO_CLIENT_SECRET = (
        seed.CUSTOM_CLIENT_ID,
        seed.CUSTOM_CLIENT_SECRET,
    )
    owner_client.post("/books/xero/custom/")
    connection = BooksConnection.objects.get()
    assert connection.kind == BooksConnection.Kind.CUSTOM
    assert connection.refresh_token == ""
    assert connection.organisation.tenant_id == xero_sim.tenant_ids[0]
    assert connection.organisation.base_currency == "USD"
    xero_sim.expire_access_tokens()  # no refresh token: a new client-credentials token
    with client_open(connection.organisation) as api:
        assert api.currencies() == ["USD"]
    assert all("xero-tenant-id" not in r.headers for r in xero_sim.requests_to("GET", "/api"))
    # The token is asked for the API scopes only: a custom connection has no refresh
    # token, and Xero refuses offline_access to it (invalid_scope).
    (first, *_) = xero_sim.requests_to("POST", "/connect/token")
    scopes = parse_qs(first.body.decode())["scope"][0].split()
    assert "offline_access" not in scopes
    assert "accounting.banktransactions" in scopes


@pytest.mark.django_db
def test_calls_for_an_organisation_not_connected_are_forbidden(owner_client, xero_sim):
    organisation = _connected(owner_client, xero_sim)
    for connection_id in list(xero_sim.connections):
        xero_sim.connections.pop(connection_id)
    with pytest.raises(AuthorizationFailed, match="403"), client_open(organisation) as api:
        api.currencies()
    assert services.organisations_connected() == [organisation]


def _connected(client, sim) -> Organisation:
    xero_connect_first_org(client, sim)
    return Organisation.objects.get(tenant_id=sim.tenant_ids[0])
