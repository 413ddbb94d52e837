"""Xero's client driven once through every operation Bulwark uses, against the strict
simulator (`treasury.demo.contracts` runs it through the adapter's `contracts_exercise`):
sign-in with PKCE, tokens, connections, the settings it reads and creates, bank
transactions written, looked up and paged, transfers and their legs, payments, the Bank
Summary, a custom connection."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from django.test.utils import override_settings

from ledger.xero import oauth
from ledger.xero.client import API_PATH, XeroClient
from ledger.xero.limits import Budget, ConcurrencySlots
from simulators.xero import seed as xero_seed
from simulators.xero.server import XeroSimulator


def _today() -> date:
    return datetime.now(UTC).date()


class _Tokens:
    """A `TokenSource` over one token set, refreshed through the identity service."""

    def __init__(self, tokens: oauth.TokenSet) -> None:
        self.tokens = tokens

    def access_token(self) -> str:
        return self.tokens.access_token

    def refreshed(self, failed_token: str) -> str:
        self.tokens = oauth.token_refresh(refresh_token=self.tokens.refresh_token)
        return self.tokens.access_token


def _xero_sign_in(sim: XeroSimulator) -> tuple[_Tokens, str]:
    redirect = "http://127.0.0.1/books/xero/callback/"
    start = oauth.authorization_start(redirect_uri=redirect)
    consent = httpx.get(start.url, follow_redirects=False, timeout=10)
    code = dict(httpx.URL(consent.headers["Location"]).params)["code"]
    tokens = oauth.code_exchange(
        code=code, redirect_uri=redirect, code_verifier=start.code_verifier
    )
    tenants = oauth.connections_list(access_token=tokens.access_token)
    return _Tokens(tokens), tenants[0].tenant_id


def _xero_books(client: XeroClient, sim: XeroSimulator) -> None:
    organisation = client.organisation()
    client.currencies()
    client.currency_add("EUR")
    wise_eur = client.account_create(
        code="", name="Wise EUR", type_="BANK", currency="EUR", bank_account_number="WISE-EUR"
    )
    clearing = client.account_create(
        code="895", name="FX clearing", type_="CURRENT", currency=organisation.base_currency
    )
    client.accounts()
    client.account_attachment_put(
        wise_eur.account_id, file_name="2026-09-30_statement_wise-eur_2026-09.pdf",
        data=b"%PDF-1.4\n", idempotency_key="a1",
    )  # fmt: skip
    client.account_attachments(wise_eur.account_id)
    element = {
        "Type": "RECEIVE", "Contact": {"Name": "Atelier Vogel GmbH"},
        "BankAccount": {"AccountID": wise_eur.account_id}, "Date": _today().isoformat(),
        "Reference": "bulwark:t1", "LineAmountTypes": "NoTax", "CurrencyRate": Decimal("0.921374"),
        "LineItems": [{"Description": "Invoice 7", "Quantity": Decimal(1),
                       "UnitAmount": Decimal("1200.00"), "AccountCode": clearing.code}],
    }  # fmt: skip
    (created,) = client.bank_transactions_write([element], idempotency_key="c1", update=False)
    update = {**element, "BankTransactionID": created.remote_id, "Reference": "bulwark:t1"}
    client.bank_transactions_write([update], idempotency_key="c2", update=True)
    client.bank_transactions_by_reference(["bulwark:t1", "bulwark:t2"])
    # A person moves money across currencies in Xero's UI (the API refuses that).
    sim.org().accounts[wise_eur.account_id]["Code"] = "091"
    sim.transfer_seed(from_code="090", to_code="091", amount=Decimal("100.00"),
                      to_amount=Decimal("92.14"), day=_today(), reference="to EUR")  # fmt: skip
    sim.payment_seed(account_code="090", amount=Decimal("300.00"), day=_today())
    client.bank_transactions_page(since=None, page=1)
    client.bank_transfers(since=datetime.now(UTC) - timedelta(days=1))
    client.payments_page(since=None, page=1)
    client.bank_summary(start=_today().replace(day=1), end=_today())


def exercise(sim: XeroSimulator) -> None:
    tokens, tenant = _xero_sign_in(sim)
    with tempfile.TemporaryDirectory() as slots:
        client = XeroClient(
            tokens=tokens, tenant_id=tenant, base_url=sim.url, timeout=10,
            slots=ConcurrencySlots(Path(slots), tenant, 5), budget=Budget(day_reserve=0),
        )  # fmt: skip
        with client:
            _xero_books(client, sim)
            sim.expire_access_tokens()
            client.request("GET", f"{API_PATH}/Currencies")  # 401, refreshed, retried
    connection = oauth.connections_list(access_token=tokens.access_token())[0]
    oauth.connection_delete(
        access_token=tokens.access_token(), connection_id=connection.connection_id
    )
    with override_settings(
        XERO_CLIENT_ID=xero_seed.CUSTOM_CLIENT_ID, XERO_CLIENT_SECRET=xero_seed.CUSTOM_CLIENT_SECRET
    ):
        custom = oauth.client_credentials_token()
        with tempfile.TemporaryDirectory() as slots, XeroClient(
            tokens=_Tokens(custom), tenant_id=None, base_url=sim.url, timeout=10,
            slots=ConcurrencySlots(Path(slots), "custom", 5), budget=Budget(day_reserve=0),
        ) as client:  # fmt: skip
            client.currencies()
