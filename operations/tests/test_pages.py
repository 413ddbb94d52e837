"""The work pages through HTTP: the invoices list and its filters, the receivables panel
with its conversions, the empty state, and the accountant's read-only view."""

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from operations.selectors import band_of
from operations.sync import connection_sync
from treasury.fx.models import Rate, Source

AS_OF = date(2025, 12, 31)


@pytest.fixture
def synced(connection, connectwise_sim, client_for):
    connection_sync(connection=connection, client=client_for(connection))
    return connectwise_sim.psa


def _ecb(day, **rates):
    for quote, rate in rates.items():
        Rate.objects.create(source=Source.ECB, base="EUR", quote=quote, date=day,
                            rate=Decimal(rate))  # fmt: skip


def test_before_connecting_the_pages_say_what_to_do(owner_client, accountant_client):
    page = owner_client.get("/work/").content.decode()
    assert "ConnectWise is not connected" in page
    assert 'href="/work/connectwise/"' in page
    assert "Connect ConnectWise" in owner_client.get("/work/receivables/").content.decode()
    seen = accountant_client.get("/work/").content.decode()
    assert "The owner has not connected ConnectWise yet." in seen
    assert "Connect ConnectWise</a>" not in seen


def test_the_invoices_list_filters_and_pages(owner_client, synced, django_assert_num_queries):
    with django_assert_num_queries(7):  # session, user, role, count, page, currencies, run
        page = owner_client.get("/work/")
    html = page.content.decode()
    assert 'Last sync: <span class="badge badge--ok">done</span>' in html
    records = 6 + 5 + 3 + 12 + len(synced.invoices) + len(synced.payments) + 705
    assert f"{records:,} new and 0 changed records" in html
    assert f"{len(synced.invoices)} invoices" in html
    assert html.count("data-invoice=") == 50
    newest = max(synced.invoices.values(), key=lambda i: (i["date"], i["id"]))
    assert f'data-invoice="{newest["id"]}"' in html
    open_eur = [
        i for i in synced.invoices.values()
        if i["balance"] > 0 and i["type"] != "CreditMemo" and i["currency"]["currencyCode"] == "EUR"
    ]  # fmt: skip
    filtered = owner_client.get("/work/", {"status": "open", "currency": "eur"})
    body = filtered.content.decode()
    assert body.count("data-invoice=") == len(open_eur) > 0
    assert (
        f"{len(open_eur)} invoice{'s' if len(open_eur) != 1 else ''} matching the filters" in body
    )
    partial = owner_client.get("/work/", {"status": "paid"}, headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<section id="invoice-results"')
    second = owner_client.get("/work/", {"page": 2}).content.decode()
    assert second.count("data-invoice=") == 50
    assert "page 2 of" in second


def test_bad_filters_get_a_clear_error_and_no_list(owner_client, synced):
    response = owner_client.get("/work/", {"currency": "XYZ"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown currency code &#x27;XYZ&#x27;" in html
    assert "data-invoice=" not in html
    assert owner_client.get("/work/", {"page": "x"}).status_code == 400
    assert owner_client.get("/work/receivables/", {"as_of": "1800-01-01"}).status_code == 400


def _expected_bands(psa, currency):
    bands = dict.fromkeys(("current", "1-30", "31-60", "61-90", "over 90"), Decimal(0))
    for i in psa.invoices.values():
        if i["currency"]["currencyCode"] != currency or i["type"] == "CreditMemo":
            continue
        if i["balance"] > 0:
            due = date.fromisoformat(i["dueDate"][:10])
            bands[band_of((AS_OF - due).days)] += i["balance"]
    return bands


def test_the_receivables_panel_ages_converts_and_shows_each_rate(owner_client, synced):
    _ecb(AS_OF, USD="1.0389", GBP="0.82918")
    response = owner_client.get("/work/receivables/", {"as_of": "2025-12-31", "base": "USD"})
    assert response.status_code == 200
    html = response.content.decode()
    from operations.selectors import receivables

    panel = receivables(as_of=AS_OF, base="USD")
    for row in panel.rows:
        assert row.bands == _expected_bands(synced, row.currency)
    gbp = next(r for r in panel.rows if r.currency == "GBP")
    rate = Decimal("1.0389") / Decimal("0.82918")
    assert abs(gbp.conversion.rate - rate) < Decimal("1e-25")
    assert gbp.converted_bands[0][1] == (gbp.bands["current"] * rate).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_EVEN
    )
    assert "1 GBP = 1.252925 USD · ECB 2025-12-31 via EUR" in html
    assert "1 EUR = 1.0389 USD · ECB 2025-12-31" in html
    assert "USD: no conversion" in html
    assert panel.complete
    assert panel.base_total == sum(r.converted_total for r in panel.rows)
    assert f"{panel.base_total:,}" in html
    assert "incomplete" not in html
    usd = next(r for r in panel.rows if r.currency == "USD")
    assert usd.dso is not None
    assert f">{usd.dso}<" in html


def test_a_missing_rate_is_shown_as_missing_never_as_1(owner_client, synced):
    _ecb(AS_OF, USD="1.0389")  # no GBP rate
    html = owner_client.get(
        "/work/receivables/", {"as_of": "2025-12-31", "base": "USD"}
    ).content.decode()
    assert "No rate: No ECB rate for GBP→USD on 2025-12-31" in html
    assert "incomplete" in html
    from operations.selectors import receivables

    panel = receivables(as_of=AS_OF, base="USD")
    assert [r.currency for r in panel.missing] == ["GBP"]
    assert panel.base_total == sum(r.converted_total for r in panel.rows if r.currency != "GBP")


def test_nothing_open_says_so(owner_client, synced):
    html = owner_client.get("/work/receivables/", {"as_of": "2019-01-01"}).content.decode()
    assert "Nothing open as of 2019-01-01" in html


def test_the_accountant_reads_every_work_page(accountant_client, synced):
    _ecb(AS_OF, USD="1.0389", GBP="0.82918")
    assert accountant_client.get("/work/").status_code == 200
    panel = accountant_client.get("/work/receivables/", {"as_of": "2025-12-31"})
    assert panel.status_code == 200
    assert "Sync now" not in accountant_client.get("/work/").content.decode()


def test_a_failed_sync_says_why_on_the_invoices_page(owner_client, connection, connectwise_sim,
                                                     client_for):  # fmt: skip
    connectwise_sim.keys.clear()  # the API member's keys were revoked in ConnectWise
    run = connection_sync(connection=connection, client=client_for(connection))
    assert run.status == "FAILED"
    html = owner_client.get("/work/").content.decode()
    assert "failed</span>" in html
    assert "ConnectWise refused the credentials" in html
    assert "(it is retried)" not in html  # wrong keys are not retried


def test_sync_now_queues_an_incremental_sync_and_full_sync_a_full_one(
    owner_client, connection, django_capture_on_commit_callbacks
):
    from unittest import mock

    with (
        mock.patch("operations.tasks.connectwise_sync.delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert owner_client.post("/work/connectwise/sync/").status_code == 302
        assert owner_client.post("/work/connectwise/sync/", {"full": "1"}).status_code == 302
    assert [c.args[2] for c in queued.call_args_list] == [False, True]
    assert 'name="full" value="1"' in owner_client.get("/work/connectwise/").content.decode()
