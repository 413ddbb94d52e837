"""Wise mid-market rates reach the FX store through the Wise client, over real HTTP."""

from decimal import Decimal

from accounts.models import SyncRun
from accounts.wise.sync import wise_balances_sync
from simulators.wise.server import SIM_TOKEN
from treasury.fx.models import Rate
from treasury.fx.services import rates_fetch


def test_wise_rates_are_fetched_through_the_connection(wise_connection, wise_sim, settings):
    settings.BASE_CURRENCY = "USD"
    wise_balances_sync(connection=wise_connection)  # the balances say which currencies
    outcome = rates_fetch(source="WISE")
    assert outcome.status == SyncRun.Status.SUCCEEDED, outcome.message
    stored = Rate.objects.filter(source="WISE", base="USD")
    assert {"EUR", "GBP", "JPY"} <= set(stored.values_list("quote", flat=True))
    latest_eur = stored.filter(quote="EUR").order_by("-date").first()
    assert latest_eur.rate == wise_sim.business.rates.rate("USD", "EUR", latest_eur.date)
    assert isinstance(latest_eur.rate, Decimal)
    assert wise_sim.requests_to("GET", r"^/v1/rates$")[0].headers["authorization"] == (
        f"Bearer {SIM_TOKEN}"
    )


def test_a_refused_token_fails_the_run_clearly_and_stores_nothing(wise_connection, wise_sim):
    wise_balances_sync(connection=wise_connection)
    wise_connection.api_token = "revoked-token"
    wise_connection.save()
    outcome = rates_fetch(source="WISE")
    assert outcome.status == SyncRun.Status.FAILED
    assert "Wise refused the rates" in outcome.message
    assert not Rate.objects.filter(source="WISE").exists()
