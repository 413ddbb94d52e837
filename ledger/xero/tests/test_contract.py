"""The Xero client against the strict simulator: what Xero's published description and
its documented error bodies demand, over real HTTP (each fails on the client as it was
before the contracts issue)."""

import uuid

import pytest

from ledger.tests.helpers import connected
from ledger.xero.client import API_PATH, NotFound, ValidationFailed
from ledger.xero.session import client_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner_client, xero_sim):
    organisation = connected(owner_client, xero_sim)
    with client_open(organisation, writes=True) as client:
        yield client


def test_writes_are_sent_as_json_and_xero_takes_them(api, xero_sim):
    api.currency_add("EUR")
    created = api.account_create(
        code="", name="Wise EUR", type_="BANK", currency="EUR", bank_account_number="W-1"
    )
    assert created.currency == "EUR"
    (put_currency,) = xero_sim.requests_to("PUT", r"/Currencies$")
    (put_account,) = xero_sim.requests_to("PUT", r"/Accounts$")
    for request in (put_currency, put_account):
        assert request.headers["content-type"] == "application/json"
        assert request.status == 200
        assert request.violations == []


def test_a_missing_resource_answered_in_plain_text_is_not_found(api, xero_sim):
    with pytest.raises(NotFound, match="Not found in Xero"):
        api.request("GET", f"{API_PATH}/BankTransactions/{uuid.uuid4()}")
    (reply,) = xero_sim.requests_to("GET", r"/BankTransactions/")
    assert reply.status == 404


def test_an_xml_api_exception_is_a_validation_error_with_xeros_message(api, xero_sim):
    xero_sim.script_fault("PUT", r"/Currencies$", status=400, body="xml")
    with pytest.raises(ValidationFailed) as refused:
        api.currency_add("EUR")
    assert refused.value.messages == ["Simulated failure"]


def test_an_empty_400_is_a_refusal_not_a_success(api, xero_sim):
    xero_sim.script_fault("PUT", r"/Currencies$", status=400, body="empty")
    with pytest.raises(ValidationFailed, match=r"refused the request \(400\)"):
        api.currency_add("EUR")
