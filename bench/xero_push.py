"""Post N demo-like Wise lines to the Xero simulator, limits on; count calls.

Connects through the real OAuth flow, maps four cash accounts (creating their Xero bank
accounts), stores N lines and times one push. Then it compares the simulator's contents
with Bulwark's lines and fails if any line is missing or posted twice (in the throwaway
database `manage.py bench` gives every benchmark).
"""

from __future__ import annotations

from argparse import ArgumentParser
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from django.test import override_settings

from bench._timing import stopwatch
from simulators.xero import seed
from simulators.xero.server import XeroSimulator


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=1000, help="Lines to post.")
    parser.add_argument("--seed", type=int, default=11, help="Seed of the demo lines.")


def run(*, stdout: Any, n: int, seed: int, **options: Any) -> dict[str, Any]:
    sim = XeroSimulator(seed_value=seed, auto_consent=True).start()  # default limits: on
    urls = {"XERO_API_URL": sim.url, "XERO_IDENTITY_URL": sim.url, "XERO_LOGIN_URL": sim.url}
    figures: dict[str, Any] = {}
    try:
        with override_settings(**urls, **_credentials()), stopwatch() as total:
            figures = _measure(sim, n=n, seed=seed, stdout=stdout)
    finally:
        sim.stop()
    figures["total_seconds"] = round(total.seconds, 2)
    return figures


def _credentials() -> dict[str, Any]:
    return {
        "XERO_CLIENT_ID": seed.DEMO_CLIENT_ID,
        "XERO_CLIENT_SECRET": seed.DEMO_CLIENT_SECRET,
        "XERO_REDIRECT_URI": "http://bench.invalid/books/xero/callback/",
    }


def _measure(sim: XeroSimulator, *, n: int, seed: int, stdout: Any) -> dict[str, Any]:
    from ledger import services
    from ledger.books.keys import posting_key
    from ledger.models import Posting
    from ledger.tests.factories import wise_year

    organisation = _connect(sim, services)
    books = wise_year(n=n, seed=seed)
    services.books_mode_set(organisation=organisation, mode="POSTS", user=None)  # type: ignore[arg-type]
    services.books_mapping_save(
        organisation=organisation,
        bank={account.pk: "new" for account in books.accounts},
        fee="404",
        fx_clearing="new",
        suspense="new",
    )
    stdout.write(f"Posting {n} lines to the Xero simulator (60 calls/min, 5,000/day, 5 at once)…")
    before = len(sim.requests)
    with stopwatch() as watch:
        result = services.books_push(organisation_id=organisation.pk)
    # Every request the simulator saw during the push: API calls and any token refresh.
    calls = len(sim.requests) - before
    ours = [e for e in sim.bank_transactions_of() if e["Reference"].startswith("bulwark:")]
    references = Counter(e["Reference"] for e in ours)
    expected = {posting_key(txn.pk): txn for txn in books.lines()}
    lost = sum(1 for key in expected if key not in references)
    duplicated = sum(count - 1 for count in references.values() if count > 1)
    wrong = sum(
        1
        for element in ours
        if element["Reference"] in expected
        and element["Total"] != abs(expected[element["Reference"]].amount)
    )
    if lost or duplicated or wrong:
        raise AssertionError(f"lost {lost}, duplicated {duplicated}, wrong amount {wrong}")
    if Posting.objects.exclude(state=Posting.State.POSTED).exists():
        raise AssertionError("some posting records are not POSTED")
    return {
        "lines": n,
        "status": result.status,
        "calls": calls,
        "calls_per_1000": round(calls * 1000 / n, 2),
        "retries_429": result.detail.get("retries_429", 0),
        "seconds": round(watch.seconds, 3),
        "lines_per_second": round(n / watch.seconds, 1) if watch.seconds else None,
        "lost": lost,
        "duplicated": duplicated,
    }


def _connect(sim: XeroSimulator, services: Any) -> Any:
    """The real authorization-code flow, minus the browser: authorize, then exchange."""
    redirect_uri = "http://bench.invalid/books/xero/callback/"
    started = services.books_connect_start(provider="xero", redirect_uri=redirect_uri)
    consent = httpx.get(started.url, follow_redirects=False, timeout=10)
    query = parse_qs(urlsplit(consent.headers["Location"]).query)
    connection = services.books_connect_finish(
        provider="xero",
        code=query["code"][0],
        state=query["state"][0],
        expected_state=started.state,
        code_verifier=started.code_verifier,
        redirect_uri=redirect_uri,
        user=None,
    )
    return services.books_tenant_choose(connection=connection, tenant_id=sim.tenant_ids[0])
