"""Reads of the archive: its proof of integrity (`archive_verify`), and what it holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.storage import default_storage

from archive.chain import CHAINED_FIELDS, chain_verify
from archive.models import ChainHead, Entry, StoredFile, Version

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """Something `verify_archive` found: the path(s) it concerns and what is wrong."""

    path: str
    reason: str


def _file_sha256(name: str) -> str | None:
    """The SHA-256 of a stored file, or None if storage does not have it."""
    if not default_storage.exists(name):
        return None
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_verify() -> list[Problem]:
    """Every stored file read back and hashed, every version tied to a chain entry of
    its content, and the chain recomputed: what does not hold, by document path."""
    problems: list[Problem] = []
    paths: dict[int, list[str]] = {}
    for file_id, path in Version.objects.values_list("file_id", "document__path"):
        paths.setdefault(file_id, []).append(path)
    for stored in StoredFile.objects.order_by("pk"):
        actual = _file_sha256(stored.storage_name)
        if actual == stored.sha256:
            continue
        reason = (
            f"file missing from storage ({stored.storage_name})"
            if actual is None
            else f"file changed: SHA-256 {actual} where {stored.sha256} was filed"
        )
        for path in paths.get(stored.pk, [stored.storage_name]):
            problems.append(Problem(path, reason))
    entries = Entry.objects.order_by("seq").values(*CHAINED_FIELDS, "prev_digest", "digest")
    filed = {
        (row["version_id"], row["sha256"])
        for row in entries.filter(action=Entry.Action.FILED).values("version_id", "sha256")
    }
    for version_id, sha256, path in Version.objects.values_list(
        "pk", "file__sha256", "document__path"
    ):
        if (version_id, sha256) not in filed:
            problems.append(Problem(path, f"version {version_id} has no chain entry of its file"))
    head = ChainHead.objects.filter(pk=1).first()
    link = chain_verify(entries.iterator(), head.head if head else "", head.length if head else 0)
    if link is not None:
        problems.append(Problem(link.path or f"entry {link.seq}", f"chain: {link.reason}"))
    return problems
