"""Bulwark's durable key of a posting, the same in every provider's books (Xero's
Reference, QuickBooks' DocNumber/PrivateNote), and the revision it was posted at."""

from __future__ import annotations

from accounts.models import Transaction
from ledger.models import POSTING_PREFIX


def posting_key(transaction_id: int) -> str:
    """`bulwark:t<transaction id>`: the durable key, written into the books."""
    return f"{POSTING_PREFIX}t{transaction_id}"


def posting_key_parse(reference: str) -> int | None:
    """The transaction id in a key Bulwark wrote, or None for anyone else's."""
    if not reference or not reference.startswith(f"{POSTING_PREFIX}t"):
        return None
    tail = reference[len(POSTING_PREFIX) + 1 :]
    return int(tail) if tail.isdigit() else None


def revision_of(txn: Transaction) -> int:
    """The categorization's revision (0 when there is none, or before the rules app has
    the field: read defensively)."""
    categorization = getattr(txn, "categorization", None)
    return int(getattr(categorization, "revision", 0) or 0) if categorization else 0
