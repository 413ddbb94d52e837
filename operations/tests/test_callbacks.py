"""ConnectWise callbacks: signed as the simulator signs them, registered on connect, and
a storm of the same change read once."""

from unittest import mock

import pytest
from django.db import connection as db

from operations.models import ConnectWiseConnection, Invoice, InvoiceRefresh
from operations.sync import connection_sync
from operations.tasks import connectwise_invoice_refresh
from simulators.connectwise.server import (
    DEMO_CLIENT_ID,
    DEMO_COMPANY_ID,
    DEMO_PRIVATE_KEY,
    DEMO_PUBLIC_KEY,
)


def _open_invoice(sim):
    return next(
        i for i in sim.psa.invoices.values() if i["balance"] > 50 and i["type"] != "CreditMemo"
    )


def _delivery(connection, sim, receiver, client_for, change):
    """One callback as the simulator signs and sends it (to the receiver, captured)."""
    with client_for(connection) as client:
        client.callback_register(
            url=f"{receiver.url}/work/connectwise/{connection.pk}/callback/?id=",
            type_="Invoice", level="Owner",
        )  # fmt: skip
    change()
    sim.callbacks_flush()
    [delivery] = receiver.wait_for(1)
    return delivery


def _post(client, connection, delivery, body=None, signature=None):
    return client.post(
        delivery["path"], data=body if body is not None else delivery["body"],
        content_type="application/json",
        headers={"x-content-signature": signature or delivery["headers"]["x-content-signature"]},
    )  # fmt: skip


def test_a_callback_storm_causes_one_refresh_of_that_invoice(
    connection, connectwise_sim, callback_receiver, client, client_for,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    connection_sync(connection=connection, client=client_for(connection))
    invoice = _open_invoice(connectwise_sim)
    balance = invoice["balance"]
    delivery = _delivery(
        connection, connectwise_sim, callback_receiver, client_for,
        lambda: connectwise_sim.payment_add(invoice["id"], balance),
    )  # fmt: skip
    with (
        mock.patch.object(connectwise_invoice_refresh, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        outcomes = [_post(client, connection, delivery).json()["status"] for _ in range(50)]
    assert outcomes == ["queued"] + ["coalesced"] * 49
    assert queued.call_count == 1
    assert queued.call_args.args[0] == (connection.pk, invoice["id"])
    assert InvoiceRefresh.objects.get().announced == 50
    reads = len(connectwise_sim.requests_to("GET", rf"/finance/invoices/{invoice['id']}$"))
    assert connectwise_invoice_refresh.run(connection.pk, invoice["id"]) == "stored"
    assert connectwise_invoice_refresh.run(connection.pk, invoice["id"]) is None  # redelivered
    after = connectwise_sim.requests_to("GET", rf"/finance/invoices/{invoice['id']}$")
    assert len(after) == reads + 1
    stored = Invoice.objects.get(cw_id=invoice["id"])
    assert (stored.balance, stored.status) == (0, "Paid")
    assert stored.applied.order_by("-cw_id").first().amount == balance
    assert not InvoiceRefresh.objects.exists()


def test_a_callback_over_real_http_queues_the_refresh(
    transactional_db, connectwise_sim, live_server, client_for
):
    connection = ConnectWiseConnection.objects.create(
        site_url=connectwise_sim.url, company_id=DEMO_COMPANY_ID, codebase="v2025_1/",
        public_key=DEMO_PUBLIC_KEY, private_key=DEMO_PRIVATE_KEY, client_id=DEMO_CLIENT_ID,
    )  # fmt: skip
    with client_for(connection) as client:
        client.callback_register(
            url=f"{live_server.url}/work/connectwise/{connection.pk}/callback/?id=",
            type_="Invoice", level="Owner",
        )  # fmt: skip
    invoice = _open_invoice(connectwise_sim)
    with mock.patch.object(connectwise_invoice_refresh, "apply_async") as queued:
        for _ in range(3):  # three saves of the invoice, three announcements
            connectwise_sim.payment_add(invoice["id"], invoice["balance"] / 4)
        connectwise_sim.callbacks_flush()
    assert [d.attempts for d in connectwise_sim.callbacks_sent] == [[200]] * 3
    assert queued.call_count == 1
    assert InvoiceRefresh.objects.get(cw_id=invoice["id"]).announced == 3


@pytest.mark.parametrize("tamper", ["body", "signature", "unsigned"])
def test_a_badly_signed_callback_is_refused_and_records_nothing(
    tamper, connection, connectwise_sim, callback_receiver, client, client_for
):
    invoice = _open_invoice(connectwise_sim)
    delivery = _delivery(
        connection, connectwise_sim, callback_receiver, client_for,
        lambda: connectwise_sim.payment_add(invoice["id"], invoice["balance"]),
    )  # fmt: skip
    body = delivery["body"]
    if tamper == "body":
        body = body.replace(str(invoice["id"]).encode(), b"1001", 1)
    signature = {"signature": "c2lnbmVk", "body": None, "unsigned": None}[tamper]
    if tamper == "unsigned":
        response = client.post(delivery["path"], data=body, content_type="application/json")
    else:
        response = _post(client, connection, delivery, body=body, signature=signature)
    assert response.status_code == 403
    assert not InvoiceRefresh.objects.exists()


def test_a_signing_key_elsewhere_is_never_fetched(connection, connectwise_sim, client):
    body = (
        b'{"CompanyId": "lighthouse", "Type": "invoice", "Action": "updated", "ID": 1001,'
        b' "Metadata": {"key_url": "http://attacker.example/key"}}'
    )
    with mock.patch("operations.services.httpx.get") as fetched:
        response = client.post(
            f"/work/connectwise/{connection.pk}/callback/?id=1001", data=body,
            content_type="application/json", headers={"x-content-signature": "AAAA"},
        )  # fmt: skip
    assert response.status_code == 403
    assert "not" in response.json()["error"]
    fetched.assert_not_called()
    assert not InvoiceRefresh.objects.exists()


def test_connecting_checks_the_keys_registers_the_callback_and_queues_a_full_sync(
    owner_client, connectwise_sim, django_capture_on_commit_callbacks
):
    details = {
        "site_url": connectwise_sim.url, "company_id": DEMO_COMPANY_ID,
        "public_key": DEMO_PUBLIC_KEY, "private_key": "wrong-private-key",
        "client_id": DEMO_CLIENT_ID,
    }  # fmt: skip
    refused = owner_client.post("/work/connectwise/", details)
    assert refused.status_code == 200
    assert "refused these details, nothing was saved" in refused.content.decode()
    assert not ConnectWiseConnection.objects.exists()
    with (
        mock.patch("operations.tasks.connectwise_sync.delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = owner_client.post(
            "/work/connectwise/", {**details, "private_key": DEMO_PRIVATE_KEY}
        )
    assert response.status_code == 302
    connection = ConnectWiseConnection.objects.get()
    assert (connection.codebase, connection.company_name) == ("v2025_1/", "Lighthouse Managed IT")
    [entry] = connectwise_sim.psa.callbacks.values()
    assert entry["url"] == f"http://testserver/work/connectwise/{connection.pk}/callback/?id="
    assert (entry["type"], entry["level"]) == ("Invoice", "Owner")
    assert connection.callback_id == entry["id"]
    queued.assert_called_once()
    assert queued.call_args.args[0] == connection.pk
    assert queued.call_args.args[2] is True  # the first sync is a full one
    with db.cursor() as cursor:
        cursor.execute("SELECT private_key, public_key FROM operations_connectwiseconnection")
        stored = cursor.fetchone()
    assert all(value.startswith("fernet:") for value in stored)
    assert DEMO_PRIVATE_KEY not in "".join(stored)
    again = owner_client.post("/work/connectwise/", {**details, "private_key": DEMO_PRIVATE_KEY})
    assert again.status_code == 302
    assert len(connectwise_sim.psa.callbacks) == 1  # registered once


def test_the_accountant_cannot_connect(accountant_client, connectwise_sim):
    page = accountant_client.get("/work/connectwise/")
    assert page.status_code == 200
    assert 'id="connect-form"' not in page.content.decode()
    refused = accountant_client.post("/work/connectwise/", {"site_url": connectwise_sim.url})
    assert refused.status_code == 403
    assert refused["X-Bulwark-Refused"] == "read-only-role"
    assert accountant_client.post("/work/connectwise/sync/").status_code == 403
    assert not ConnectWiseConnection.objects.exists()


def test_forged_callbacks_fetch_the_signing_key_again_at_most_once_a_minute(
    connection, connectwise_sim, callback_receiver, client, client_for
):
    import httpx
    from django.core.cache import cache

    cache.clear()
    invoice = _open_invoice(connectwise_sim)
    delivery = _delivery(
        connection, connectwise_sim, callback_receiver, client_for,
        lambda: connectwise_sim.payment_add(invoice["id"], invoice["balance"]),
    )  # fmt: skip
    with mock.patch("operations.services.httpx.get", wraps=httpx.get) as fetched:
        for _ in range(5):
            assert _post(client, connection, delivery, signature="Zm9yZ2Vk").status_code == 403
        assert fetched.call_count == 2  # the first read, and one fetch again for a rotation
        assert _post(client, connection, delivery).json()["status"] == "queued"
        assert fetched.call_count == 2  # the genuine one is checked with the cached key
