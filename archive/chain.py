"""The archive's hash chain: each entry's digest covers its content and the previous
digest, so changing, removing or reordering an entry breaks the chain from there on.

Encoding (v1): the fields below as text, each length-prefixed so no field's content can
shift a boundary, in this order after the previous digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CHAINED_FIELDS = ("seq", "action", "document_id", "version_id", "path", "sha256", "size", "at")


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def entry_digest(prev_digest: str, values: Mapping[str, Any]) -> str:
    body = [f"archive-v1\n{prev_digest}\n"]
    for name in CHAINED_FIELDS:
        part = _text(values[name])
        body.append(f"{len(part)}:{part}")
    return hashlib.sha256("".join(body).encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    path: str
    reason: str


def chain_verify(rows: Iterable[Mapping[str, Any]], head: str, length: int) -> BrokenLink | None:
    """The first broken link, or None when the chain holds. `rows` are the entries in
    `seq` order with CHAINED_FIELDS, `prev_digest` and `digest`."""
    previous, expected = "", 1
    for row in rows:
        if row["seq"] != expected:
            return BrokenLink(expected, "", "entry missing from the chain")
        if row["prev_digest"] != previous:
            return BrokenLink(row["seq"], row["path"], "link to the previous entry broken")
        if entry_digest(previous, row) != row["digest"]:
            return BrokenLink(row["seq"], row["path"], "entry changed")
        previous, expected = row["digest"], expected + 1
    if expected - 1 != length or previous != head:
        return BrokenLink(expected, "", "entries removed from the end of the chain")
    return None
