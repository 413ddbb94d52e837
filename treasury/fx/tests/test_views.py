"""The rates page through HTTP: empty state, tables, history partial, fetch and override
flows, what each role sees, and a query count that does not grow with the data."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import SyncRun
from accounts.tests.factories import CashAccountFactory
from treasury.fx import tasks
from treasury.fx.calendar import target_days
from treasury.fx.models import OverrideLog, Rate
from treasury.fx.tests.factories import ecb, treasury

pytestmark = pytest.mark.django_db
URL = "/rates/"


def seed_month() -> None:
    for day in target_days(date(2025, 6, 2), date(2025, 6, 30)):
        if day != date(2025, 6, 12):  # one missing day
            ecb(day, USD="1.1400", JPY="163.20", GBP="0.84470", ISK="141.90")
    treasury(date(2025, 6, 30), "EUR", "0.877")


def test_rates_page_url_name():
    assert reverse("fx:rates") == URL


def test_empty_state_says_how_to_fetch(owner_client, accountant_client):
    page = owner_client.get(URL).content.decode()
    assert "No exchange rates yet" in page
    assert "python manage.py fetch_rates" in page
    assert "Fetch now" in page
    readonly = accountant_client.get(URL).content.decode()
    assert "No exchange rates yet" in readonly
    assert "Fetch now" not in readonly


def test_latest_rates_in_the_base_currency_with_policy_note(owner_client, settings):
    settings.BASE_CURRENCY = "USD"
    seed_month()
    page = owner_client.get(URL).content.decode()
    assert "1 USD in other currencies" in page
    assert "143.1579" in page  # 163.20 / 1.14, JPY per USD on 2025-06-30
    assert 'data-policy="now" data-source="ECB"' in page
    assert "foreign units per 1 EUR" in page
    euro = owner_client.get(URL + "?base=EUR").content.decode()
    assert "1 EUR in other currencies" in euro
    assert "163.2" in euro


def test_a_bad_base_is_named_and_the_default_shown(owner_client, settings):
    settings.BASE_CURRENCY = "USD"
    seed_month()
    page = owner_client.get(URL + "?base=XQQ").content.decode()
    assert "Unknown currency code" in page
    assert "1 USD in other currencies" in page


def test_held_currencies_come_first_and_all_on_request(owner_client, settings):
    settings.BASE_CURRENCY = "USD"
    seed_month()
    CashAccountFactory(currency="ISK")
    short = owner_client.get(URL).content.decode()
    assert "Icelandic" in short  # held
    full = owner_client.get(URL + "?all=1").content.decode()
    assert "Your currencies and the majors" in full


def test_history_partial_with_gaps_shaded(owner_client):
    seed_month()
    response = owner_client.get(
        URL, {"quote": "JPY", "source": "ECB", "period": "3m"}, HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="history",
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="history">')
    assert "<svg" in html
    assert "No ECB rate: 2025-06-12 to 2025-06-12" in html  # the gap band's title
    assert "<!doctype" not in html.lower()


# Session and user (2), latest dates, held currencies, one book per source (ECB, Treasury),
# fetch runs, overrides, the override log, and the history's book.
PAGE_QUERIES = 10


def test_page_query_count_does_not_grow_with_rates(owner_client, django_assert_num_queries):
    seed_month()
    with django_assert_num_queries(PAGE_QUERIES):
        owner_client.get(URL)
    for day in target_days(date(2024, 1, 1), date(2025, 5, 30)):
        ecb(day, USD="1.1", JPY="160.0", GBP="0.85", ISK="140.0", CHF="0.94")
    CashAccountFactory(currency="ISK")
    with django_assert_num_queries(PAGE_QUERIES):
        owner_client.get(URL + "?period=max&quote=CHF")


def test_owner_queues_a_fetch_and_sees_its_progress(
    owner_client, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.fetch_rates, "delay", lambda **kw: queued.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("fx:fetch"), {"source": "ECB"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="fetches"
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert queued == [{"source": "ECB", "run_id": SyncRun.objects.get().pk}]
    assert 'hx-trigger="every 2s"' in html  # polls while queued or running
    assert "Queued" in html
    bad = owner_client.post(reverse("fx:fetch"), {"source": "MANUAL"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400


def test_owner_sets_and_removes_an_override(owner_client, owner):
    seed_month()
    form = {
        "base": "usd",
        "quote": "JPY",
        "rate": "150.5",
        "date": "2025-06-30",
        "reason": "Bank rate",
    }
    response = owner_client.post(reverse("fx:override"), form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Bank rate" in response.content.decode()
    override = Rate.objects.get(source="MANUAL")
    assert (override.base, override.quote, override.rate, override.entered_by) == (
        "USD", "JPY", Decimal("150.5"), owner,
    )  # fmt: skip
    page = owner_client.get(URL).content.decode()
    jpy = page[page.index("<strong>JPY</strong>") :].split("</tr>")[0]
    assert '<span class="badge badge--warn" title="Owner override">override</span>' in jpy
    assert ">150.5<" in jpy  # the override wins over the ECB's 143.1579 of the same day
    removed = owner_client.post(
        reverse("fx:override-remove", args=[override.pk]), {"reason": "Wrong day"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert removed.status_code == 200
    assert not Rate.objects.filter(source="MANUAL").exists()
    assert list(OverrideLog.objects.values_list("action", flat=True).order_by("id")) == [
        "SET",
        "REMOVE",
    ]


def test_a_bad_override_is_shown_and_stores_nothing(owner_client):
    form = {"base": "USD", "quote": "USD", "rate": "0", "date": "2025-06-30", "reason": ""}
    response = owner_client.post(reverse("fx:override"), form, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 400
    assert "Choose a currency other than" in html
    assert "This field is required" in html
    assert not Rate.objects.exists()


def test_accountant_sees_rates_but_no_write_controls(accountant_client, owner):
    seed_month()
    Rate.objects.create(
        source="MANUAL", base="USD", quote="AED", rate=Decimal("3.6725"), date=date(2025, 6, 2),
        entered_by=owner, reason="Peg",
    )  # fmt: skip
    page = accountant_client.get(URL).content.decode()
    assert "1 USD → AED" in page  # the override list is visible
    assert "Save override" not in page
    assert "Fetch now" not in page
    assert 'name="reason"' not in page
    refused = accountant_client.post(reverse("fx:override"), {"base": "USD"})
    assert refused.status_code == 403


def test_fetches_region_refreshes_alone(owner_client):
    SyncRun.objects.create(
        kind="RATES", label="ECB", status="RUNNING", progress_done=40, progress_total=100
    )
    response = owner_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="fetches")
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="fetches"')
    assert 'aria-valuenow="40"' in html
    done = SyncRun.objects.get()
    done.status = "SUCCEEDED"
    done.save()
    assert (
        'hx-trigger="every 2s"'
        not in owner_client.get(
            URL, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="fetches"
        ).content.decode()
    )


def test_history_defaults_to_a_pair_with_data(owner_client, settings):
    settings.BASE_CURRENCY = "EUR"
    seed_month()
    html = owner_client.get(URL).content.decode()
    assert "History: 1 EUR in USD" in html
    old = date(2025, 6, 30) - timedelta(days=400)
    assert old.isoformat() not in html
