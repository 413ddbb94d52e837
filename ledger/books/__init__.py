"""The books seam: one protocol (`BooksAdapter`) every provider implements in its own
package (`ledger/xero/adapter.py`, ...), chosen from the connected `Organisation`."""

from ledger.books.protocol import (
    BooksAdapter,
    BooksError,
    BudgetLow,
    ConnectError,
    LeaseLost,
    PushFailed,
    PushResult,
    ReadBackResult,
)
from ledger.books.registry import UnknownProvider, adapter_class, adapter_for

__all__ = [
    "BooksAdapter",
    "BooksError",
    "BudgetLow",
    "ConnectError",
    "LeaseLost",
    "PushFailed",
    "PushResult",
    "ReadBackResult",
    "UnknownProvider",
    "adapter_class",
    "adapter_for",
]
