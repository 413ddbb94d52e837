"""Bulwark's clients against the strict simulators, once for every operation they use.

`exercise()` starts the four simulators in this process, points the settings at them
and drives each client the way Bulwark does (Wise: profiles, balances, a statement, a
UK/EEA refusal, rates; Xero: sign-in with PKCE, tokens, connections, the settings it
reads and creates, bank transactions written, looked up and paged, transfers and their
legs, payments, the Bank Summary, a custom connection; ECB and Treasury: each file and
query). Every exchange is checked by the simulators against the descriptions
(`simulators.contracts`); `report()` gathers what the process's contract log saw.
No database is touched: the clients never need one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from django.test.utils import override_settings

from accounts.wise.client import WiseClient, WiseStatementsRefused
from ledger.xero import oauth
from ledger.xero.client import API_PATH, XeroClient
from ledger.xero.limits import Budget, ConcurrencySlots
from simulators.contracts.log import LOG
from simulators.contracts.spec import SOURCES, contract
from simulators.ecb.server import EcbSimulator
from simulators.treasury.server import TreasurySimulator
from simulators.wise.generator import PROFILE_BUSINESS, PROFILE_PERSONAL
from simulators.wise.server import SIM_TOKEN, WiseSimulator
from simulators.xero import seed as xero_seed
from simulators.xero.server import XeroSimulator
from treasury.fx.sources.ecb import ecb_fetch
from treasury.fx.sources.http import RatesHttp
from treasury.fx.sources.treasury import treasury_fetch

# The operations the README says Bulwark calls, by contract: the run fails if any is
# not exercised.
CALLED: dict[str, tuple[str, ...]] = {
    "wise": ("profileList", "balanceList", "balanceGet", "balanceStatementGet", "rateGet"),
    "xero-oauth": ("authorize", "token"),
    "xero-identity": ("getConnections", "deleteConnection"),
    "xero-accounting": (
        "getOrganisations", "getOrganisationActions", "getCurrencies", "createCurrency",
        "getAccounts", "createAccount", "getBankTransactions", "createBankTransactions",
        "updateOrCreateBankTransactions", "getBankTransfers", "getPayments",
        "getReportBankSummary",
    ),
    "ecb": ("ecbDailyXml", "ecb90DaysXml", "ecbHistoryZip"),
    "treasury": ("ratesOfExchange",),
}  # fmt: skip


@dataclass
class Report:
    operations: dict[str, dict[str, int]] = field(default_factory=dict)  # contract -> op -> n
    violations: list[str] = field(default_factory=list)
    allowlisted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class _Tokens:
    """A `TokenSource` over one token set, refreshed through the identity service."""

    def __init__(self, tokens: oauth.TokenSet) -> None:
        self.tokens = tokens

    def access_token(self) -> str:
        return self.tokens.access_token

    def refreshed(self, failed_token: str) -> str:
        self.tokens = oauth.token_refresh(refresh_token=self.tokens.refresh_token)
        return self.tokens.access_token


def _today() -> date:
    return datetime.now(UTC).date()


@contextmanager
def _simulators(seed: int) -> Iterator[dict[str, Any]]:
    today = datetime.now(UTC).date()
    wise = WiseSimulator(seed=seed, size=400, start=datetime.now(UTC) - timedelta(days=120))
    xero = XeroSimulator(seed_value=seed, auto_consent=True)
    ecb, treasury = EcbSimulator(seed=seed), TreasurySimulator(seed=seed)
    ecb.today, ecb.history_start = today, today - timedelta(days=400)
    servers = {"wise": wise, "xero": xero, "ecb": ecb, "treasury": treasury}
    for server in servers.values():
        server.start()
    try:
        with override_settings(
            XERO_API_URL=xero.url, XERO_IDENTITY_URL=xero.url, XERO_LOGIN_URL=xero.url,
            XERO_CLIENT_ID=xero_seed.DEMO_CLIENT_ID,
            XERO_CLIENT_SECRET=xero_seed.DEMO_CLIENT_SECRET,
            ECB_URL=ecb.url, TREASURY_API_URL=treasury.url, HTTP_TIMEOUT_SECONDS=10,
        ):  # fmt: skip
            yield servers
    finally:
        for server in servers.values():
            server.stop()


def _wise(sim: WiseSimulator) -> None:
    with WiseClient(sim.url, SIM_TOKEN, sleep=lambda _: None) as client:
        assert {p.id for p in client.profiles()} >= {PROFILE_BUSINESS, PROFILE_PERSONAL}
        balances = client.balances(PROFILE_BUSINESS)
        first = balances[0]
        client.balance(PROFILE_BUSINESS, first.id)
        end = datetime.now(UTC)
        client.statement(PROFILE_BUSINESS, first.id, first.currency, end - timedelta(days=90), end)
        client.rates(source="EUR", target="USD")
        client.rates(source="EUR", target="USD", at=end - timedelta(days=3))
        client.rates(source="USD", target="GBP", start=end - timedelta(days=10), end=end)
        sim.uk_eea_profile(PROFILE_PERSONAL)
        personal = client.balances(PROFILE_PERSONAL)[0]
        # As Wise refuses a personal token the statements of a UK/EEA profile.
        with suppress(WiseStatementsRefused):
            client.statement(
                PROFILE_PERSONAL, personal.id, personal.currency, end - timedelta(days=1), end
            )


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


def _xero(sim: XeroSimulator) -> None:
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


def _rates(ecb: EcbSimulator, treasury: TreasurySimulator) -> None:
    with RatesHttp(sleep=lambda _: None) as http:
        for kind in ("daily", "90d", "hist"):
            ecb_fetch(http, base_url=ecb.url, kind=kind)
        treasury_fetch(http, base_url=treasury.url, since=_today() - timedelta(days=400))


def exercise(seed: int = 1, *, say: Callable[[str], None] = lambda _: None) -> None:
    with _simulators(seed) as sims:
        say("Wise: profiles, balances, a statement, a UK/EEA refusal, rates")
        _wise(sims["wise"])
        say("Xero: sign-in, tokens, connections, settings, bank documents, Bank Summary")
        _xero(sims["xero"])
        say("ECB files and the Treasury's rates of exchange")
        _rates(sims["ecb"], sims["treasury"])


def report() -> Report:
    """What the process's contract log saw: per contract, the operations exercised."""
    for name in SOURCES:
        contract(name)  # loaded, so its own defects are in the log
    out = Report()
    with LOG.lock:
        for (name, operation), count in sorted(LOG.operations.items()):
            out.operations.setdefault(name, {})[operation] = count
        out.violations = [f"{v} [{v.location}]" for v in LOG.violations]
        out.allowlisted = sorted(LOG.allowlisted)
    for name, operations in CALLED.items():
        for operation in operations:
            if operation not in out.operations.get(name, {}):
                out.missing.append(f"{name} {operation}")
    return out
