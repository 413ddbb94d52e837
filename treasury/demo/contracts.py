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

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.test.utils import override_settings

from accounts.wise.client import WiseClient, WiseStatementsRefused
from ledger.books import adapter_class
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
        adapter_class("xero").contracts_exercise(sims["xero"])
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
