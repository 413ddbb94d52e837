"""Helpers of the Wise feed tests: connect to a simulator, compare the stored lines."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connections

from accounts.lines import natural_key
from accounts.models import CashAccount, Transaction, WiseConnection
from accounts.wise.client import WiseProfile
from accounts.wise.normalize import statement_line_from_wise
from accounts.wise.services import ConnectionSecrets, wise_connection_save
from simulators.wise.generator import PROFILE_BUSINESS
from simulators.wise.server import SIM_TOKEN, WiseSimulator
from treasury.money import to_minor


def connection_to(
    sim: WiseSimulator, settings: Any, *, profile_id: int = PROFILE_BUSINESS, **secrets: str
) -> WiseConnection:
    settings.WISE_API_URL = sim.url
    profile = next(p for p in sim.business.profiles if p.id == profile_id)
    return wise_connection_save(
        profile=WiseProfile(id=profile.id, type=profile.type, name=profile.full_name),
        environment=WiseConnection.Environment.LIVE,
        secrets=ConnectionSecrets(api_token=secrets.pop("api_token", SIM_TOKEN), **secrets),
    )


def simulator_keys(sim: WiseSimulator, profile_id: int = PROFILE_BUSINESS) -> Counter:
    """Every line the simulator holds for the profile, as (balance id, natural key)."""
    keys: Counter = Counter()
    for balance in sim.balances_of(profile_id):
        for txn in balance.lines:
            line = statement_line_from_wise(txn)
            keys[
                (
                    balance.id,
                    natural_key(
                        reference_number=line.reference_number,
                        direction=line.resolved_direction,
                        booked_on=line.booked_on,
                        amount_minor=to_minor(line.amount, line.currency),
                    ),
                )
            ] += 1
    return keys


def stored_keys() -> Counter:
    return Counter(
        Transaction.objects.values_list("account__wise_balance_id", "natural_key").order_by()
    )


def stored_balances() -> dict[int, int]:
    """Each Wise account's last running balance, in minor units."""
    result = {}
    for account in CashAccount.objects.filter(wise_balance_id__isnull=False):
        last = Transaction.objects.filter(account=account).order_by("-booked_at", "-seq").first()
        result[account.wise_balance_id] = last.running_balance_minor if last else 0
    return result


def run_concurrently(function: Callable[[], Any], times: int = 2) -> list[Any]:
    """Call `function` in `times` threads at once (each with its own database
    connection); their results, in finishing order."""
    results: list[Any] = []

    def call() -> None:
        try:
            results.append(function())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
