"""Helpers for the statement-file tests: the sample files and a view of what is stored."""

from pathlib import Path
from typing import Any

from accounts.models import CashAccount, DailyBalance, Transaction

DATA = Path(__file__).parent / "data" / "statements"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def sample_text(name: str) -> str:
    return sample(name).decode("utf-8")


def stored_state(account: CashAccount) -> dict[str, Any]:
    """Everything an import may change for an account, to prove a refusal changed nothing."""
    account.refresh_from_db()
    return {
        "lines": list(
            Transaction.objects.filter(account=account)
            .order_by("seq")
            .values_list("natural_key", "amount_minor")
        ),
        "daily": list(
            DailyBalance.objects.filter(account=account)
            .order_by("date")
            .values_list("date", "closing_minor")
        ),
        "opening": account.opening_balance_minor,
        "chain": (account.chain_head, account.chain_length),
    }


def line_by(account: CashAccount, reference: str, direction: str = "DEBIT") -> Transaction:
    return Transaction.objects.get(account=account, reference_number=reference, direction=direction)
