"""The accounts, connection and transactions pages, for the owner and the accountant."""

import re
from datetime import timedelta

import pytest
from django.db import connection as db
from django.urls import reverse

from accounts.models import CashAccount, StatementCursor, SyncRun, Transaction, WiseConnection
from accounts.tasks import sync_wise_connection
from accounts.wise.sync import wise_connection_sync
from simulators.wise.fixtures import rsa_keypair
from simulators.wise.generator import PROFILE_BUSINESS
from simulators.wise.server import SIM_TOKEN

pytestmark = pytest.mark.django_db

LIST = reverse("accounts:list")
TRANSACTIONS = reverse("accounts:transactions")
CONNECT = reverse("accounts:wise_connect")


def _posts(html: str) -> list[str]:
    """The actions of the page's POST forms, sign-out aside."""
    actions = re.findall(r'<form method="post" action="([^"]+)"', html)
    return [action for action in actions if action != reverse("logout")]


# --- accounts ---------------------------------------------------------------------------


def test_empty_accounts_page_invites_the_owner_to_connect(owner_client):
    html = owner_client.get(LIST).content.decode()
    assert "No accounts yet" in html
    assert f'href="{CONNECT}"' in html
    assert "Sync now" not in html  # nothing to sync yet


def test_empty_accounts_page_tells_the_accountant_who_connects(accountant_client):
    html = accountant_client.get(LIST).content.decode()
    assert "The owner has not connected Wise yet" in html
    assert _posts(html) == []


def test_accounts_page_shows_balances_proof_and_last_sync(owner_client, wise_sim, wise_connection):
    wise_connection_sync(connection=wise_connection)
    html = owner_client.get(LIST).content.decode()
    usd = wise_sim.business.balance(70001)
    assert f"{usd.amount:,.2f} USD" in html
    jpy = wise_sim.business.balance(70004)
    assert f"{jpy.amount:,.0f} JPY" in html
    assert html.count("Proved") == 5
    assert html.count(">Succeeded<") >= 5
    assert "Tax reserve" in html
    assert "Sync now" in html


def test_accounts_page_queries_do_not_grow_with_accounts(
    owner_client, wise_sim, wise_connection, django_assert_num_queries
):
    wise_connection_sync(connection=wise_connection)
    owner_client.get(LIST)  # warm the session
    with django_assert_num_queries(7) as few:
        owner_client.get(LIST)
    more = CashAccount.objects.first()
    for n in range(10):
        CashAccount.objects.create(institution=more.institution, name=f"Extra {n}", currency="CHF")
    with django_assert_num_queries(len(few.captured_queries)):
        owner_client.get(LIST)


def test_accountant_sees_accounts_without_write_controls(
    accountant_client, wise_sim, wise_connection
):
    wise_connection_sync(connection=wise_connection)
    html = accountant_client.get(LIST).content.decode()
    assert "Proved" in html
    assert "Sync now" not in html
    assert _posts(html) == []
    html = accountant_client.get(CONNECT).content.decode()
    assert wise_connection.token_masked in html
    assert _posts(html) == []
    assert SIM_TOKEN not in html


def test_sync_now_shows_live_progress_until_done(
    owner_client, wise_sim, wise_connection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as enqueued:
        response = owner_client.post(reverse("accounts:sync"), headers={"HX-Request": "true"})
    assert len(enqueued) == 1
    html = response.content.decode()
    run = SyncRun.objects.get(status=SyncRun.Status.QUEUED)
    assert 'id="sync-progress"' in html
    assert f"run={run.pk}" in html  # it polls this run
    assert 'hx-trigger="every 1s"' in html
    assert "Waiting for a worker" in html
    assert "<html" not in html  # a partial

    sync_wise_connection(wise_connection.pk, run.pk)  # the worker runs it

    done = owner_client.get(
        reverse("accounts:sync_progress") + f"?run={run.pk}", headers={"HX-Request": "true"}
    ).content.decode()
    assert "every 1s" not in done  # polling stops
    assert "Succeeded" in done
    assert f"Done: {Transaction.objects.count()} new lines" in done
    assert 'id="accounts-region" hx-swap-oob="true"' in done  # fresh balances swapped in
    assert done.count("Proved") == 5


def test_sync_now_twice_runs_once(owner_client, wise_connection):
    owner_client.post(reverse("accounts:sync"))
    owner_client.post(reverse("accounts:sync"))
    assert SyncRun.objects.filter(status=SyncRun.Status.QUEUED).count() == 1


def test_an_sca_refusal_is_shown_on_the_accounts_page(owner_client, wise_sim, connect):
    wise_sim.sca_require(PROFILE_BUSINESS)
    registered, wrong = rsa_keypair(), rsa_keypair()
    wise_sim.sca_public_key_add(registered.public_pem)
    connection = connect(wise_sim, sca_private_key=wrong.private_pem)

    run = wise_connection_sync(connection=connection)

    assert run.status == SyncRun.Status.FAILED
    assert "rejected the SCA signature" in run.error
    assert not Transaction.objects.exists()
    html = owner_client.get(LIST).content.decode()
    assert "The last Wise sync failed" in html
    assert html.count("rejected the SCA signature") >= 5  # the alert and each account's row

    connection.sca_private_key = registered.private_pem
    connection.save()
    assert wise_connection_sync(connection=connection).status == SyncRun.Status.SUCCEEDED
    assert "The last Wise sync failed" not in owner_client.get(LIST).content.decode()


def test_a_balance_difference_is_shown_with_what_happens_next(
    owner_client, wise_sim, wise_connection
):
    deposit = next(
        line
        for line in wise_sim.business.balance(70002).lines
        if line["details"]["type"] == "DEPOSIT"
    )
    wise_sim.hidden_refs.add(deposit["referenceNumber"])
    wise_connection_sync(connection=wise_connection)
    html = owner_client.get(LIST).content.decode()
    assert f"Differs by {deposit['amount']['value']:,.2f} EUR" in html
    assert "Balance differences" in html
    assert "fetched again on the next sync" in html


# --- connection ---------------------------------------------------------------------------


def test_connect_with_a_token_and_profile_stores_secrets_encrypted_and_masked(
    owner_client, wise_sim, wise_settings, wise_keypair, django_capture_on_commit_callbacks
):
    wise_settings.WISE_API_URL = wise_sim.url
    with django_capture_on_commit_callbacks() as enqueued:
        response = owner_client.post(
            CONNECT,
            {
                "environment": "LIVE",
                "api_token": SIM_TOKEN,
                "profile_id": PROFILE_BUSINESS,
                "sca_private_key": wise_keypair.private_pem,
                "webhook_public_key": wise_sim.webhook_public_key_pem,
            },
        )
    assert response.status_code == 302
    assert len(enqueued) == 1  # the first sync
    connection = WiseConnection.objects.get()
    assert (connection.profile_id, connection.profile_name) == (
        PROFILE_BUSINESS,
        "Quinn Studio LLC",
    )
    assert connection.api_token == SIM_TOKEN
    with db.cursor() as cursor:
        cursor.execute("SELECT api_token, sca_private_key FROM accounts_wiseconnection")
        raw_token, raw_key = cursor.fetchone()
    assert raw_token.startswith("fernet:")
    assert SIM_TOKEN not in raw_token
    assert "PRIVATE KEY" not in raw_key
    html = owner_client.get(CONNECT).content.decode()
    assert "••••••••" + SIM_TOKEN[-4:] in html
    assert SIM_TOKEN not in html
    assert wise_keypair.private_pem.splitlines()[1] not in html
    assert "RSA 2048 bits, SHA256:" in html
    assert "/webhooks/wise/" in html


def test_a_refused_token_is_a_form_error_and_nothing_is_saved(
    owner_client, wise_sim, wise_settings
):
    wise_settings.WISE_API_URL = wise_sim.url
    response = owner_client.post(CONNECT, {"environment": "LIVE", "api_token": "nope"})
    assert response.status_code == 200
    assert "Wise refused this token" in response.content.decode()
    assert not WiseConnection.objects.exists()


def test_a_token_with_several_profiles_asks_which(owner_client, wise_sim, wise_settings):
    wise_settings.WISE_API_URL = wise_sim.url
    response = owner_client.post(CONNECT, {"environment": "LIVE", "api_token": SIM_TOKEN})
    html = response.content.decode()
    assert "Choose which profile" in html
    assert "Quinn Studio LLC (business)" in html
    assert "Avery Quinn (personal)" in html
    assert not WiseConnection.objects.exists()


def test_load_profiles_fills_the_choice_in_place(owner_client, wise_sim, wise_settings):
    wise_settings.WISE_API_URL = wise_sim.url
    url = reverse("accounts:wise_profiles")
    html = owner_client.post(
        url, {"environment": "LIVE", "api_token": SIM_TOKEN}, headers={"HX-Request": "true"}
    ).content.decode()
    assert html.lstrip().startswith('<div id="profile-choice">')
    assert f'value="{PROFILE_BUSINESS}"' in html
    refused = owner_client.post(url, {"environment": "LIVE", "api_token": "x"}).content.decode()
    assert "Wise refused this token" in refused


def test_a_malformed_key_is_refused_with_a_reason(owner_client):
    response = owner_client.post(
        CONNECT,
        {
            "environment": "LIVE",
            "api_token": "t",
            "sca_private_key": "not a key",
        },
    )
    assert "Not an unencrypted PEM private key" in response.content.decode()
    assert not WiseConnection.objects.exists()


def test_a_generated_key_pair_shows_the_public_key_once(owner_client, wise_connection):
    response = owner_client.post(reverse("accounts:wise_keypair", args=[wise_connection.pk]))
    html = response.content.decode()
    assert "BEGIN PUBLIC KEY" in html
    wise_connection.refresh_from_db()
    assert wise_connection.sca_private_key.splitlines()[1] not in html
    assert wise_connection.sca_private_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert 'id="new-public-key"' in html
    assert 'id="new-public-key"' not in owner_client.get(CONNECT).content.decode()


def test_disconnect_keeps_the_stored_lines(owner_client, wise_sim, wise_connection):
    wise_connection_sync(connection=wise_connection)
    count = Transaction.objects.count()
    owner_client.post(reverse("accounts:wise_disconnect", args=[wise_connection.pk]))
    assert not WiseConnection.objects.exists()
    assert Transaction.objects.count() == count


# --- transactions -----------------------------------------------------------------------


@pytest.fixture
def synced(wise_sim, wise_connection):
    wise_connection_sync(connection=wise_connection)
    return wise_sim


def _ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-line="(\d+)"', html)]


def _link(html: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_keyset_pages_walk_every_line_newest_first_and_back(owner_client, synced):
    expected = list(Transaction.objects.order_by("-booked_at", "-id").values_list("pk", flat=True))
    assert len(expected) > 120
    seen, url, pages = [], TRANSACTIONS, []
    while url:
        html = owner_client.get(url if url.startswith("/") else TRANSACTIONS + url).content.decode()
        pages.append(html)
        seen += _ids(html)
        url = _link(html, "next")
    assert seen == expected
    assert _link(pages[0], "prev") is None
    back = owner_client.get(TRANSACTIONS + _link(pages[-1], "prev")).content.decode()
    assert _ids(back) == _ids(pages[-2])


def test_a_deep_page_costs_the_same_queries_as_the_first(
    owner_client, synced, django_assert_num_queries
):
    owner_client.get(TRANSACTIONS)
    # session, user, accounts, the page of lines (with their bookings), the totals by
    # currency (from the daily rows); one more names the codes when lines have some
    with django_assert_num_queries(5) as first:
        html = owner_client.get(TRANSACTIONS).content.decode()
    last = Transaction.objects.order_by("booked_at", "id").first()
    with django_assert_num_queries(5) as deep:
        owner_client.get(TRANSACTIONS + "?after=" + _token(last, owner_client))
    sql = " ".join(q["sql"].upper() for q in first.captured_queries + deep.captured_queries)
    assert "COUNT(" not in sql
    assert "OFFSET" not in sql
    assert len(_ids(html)) == 50


def _token(line, client) -> str:
    from accounts.selectors import PageCursor

    return PageCursor(line.booked_at + timedelta(microseconds=1), line.pk + 1).token()


def test_filters_narrow_the_lines(owner_client, synced):
    eur = CashAccount.objects.get(wise_balance_id=70002)
    html = owner_client.get(TRANSACTIONS, {"account": eur.pk}).content.decode()
    assert set(Transaction.objects.filter(pk__in=_ids(html)).values_list("account", flat=True)) == {
        eur.pk
    }
    card = owner_client.get(TRANSACTIONS, {"type": "CARD", "currency": "USD"}).content.decode()
    lines = Transaction.objects.filter(pk__in=_ids(card))
    assert {(t.wise_type, t.currency) for t in lines} == {("CARD", "USD")}
    deposit = Transaction.objects.filter(wise_type="DEPOSIT").first()
    found = owner_client.get(TRANSACTIONS, {"q": deposit.payment_reference}).content.decode()
    assert deposit.pk in _ids(found)
    day = deposit.booked_on
    dated = owner_client.get(TRANSACTIONS, {"date_from": day, "date_to": day}).content.decode()
    assert {t.booked_on for t in Transaction.objects.filter(pk__in=_ids(dated))} == {day}
    none = owner_client.get(TRANSACTIONS, {"q": "no such text anywhere"}).content.decode()
    assert "No transactions match these filters" in none


def test_htmx_filtering_returns_only_the_results(owner_client, synced):
    html = owner_client.get(
        TRANSACTIONS, {"type": "CONVERSION"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert html.lstrip().startswith('<section id="transactions-results"')
    assert "at 1" in html or " at " in html  # conversions show their rate


def test_transactions_empty_states(owner_client, accountant_client):
    assert "Connect Wise" in owner_client.get(TRANSACTIONS).content.decode()
    assert (
        "The owner has not connected Wise yet"
        in accountant_client.get(TRANSACTIONS).content.decode()
    )


def test_proof_badge_reflects_the_cursor(owner_client, synced):
    StatementCursor.objects.update(proof_status=StatementCursor.Proof.UNCHECKED)
    assert "Not checked" in owner_client.get(LIST).content.decode()


def test_the_admin_never_shows_a_secret(accountant_client, owner_client, wise_connection):
    url = reverse("admin:accounts_wiseconnection_change", args=[wise_connection.pk])
    for client in (owner_client, accountant_client):
        html = client.get(url).content.decode()
        assert wise_connection.token_masked in html
        assert SIM_TOKEN not in html
    listing = accountant_client.get(reverse("admin:accounts_wiseconnection_changelist"))
    assert SIM_TOKEN not in listing.content.decode()
