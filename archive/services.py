"""Writes of the archive: store a content once, file a document (a new version when its
content changed, nothing when it did not), change the layout.

Every filing appends to the hash chain under a lock on its head row, in the same
transaction as the version it records, so two filings (two workers, two hosts) never
race for a sequence number and a crash leaves either both or neither. A file is written
to storage before its row: a crash in between leaves an unreferenced file, which the next
filing of the same bytes reuses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import CashAccount
from archive.chain import entry_digest
from archive.layout import (
    DEFAULT_TEMPLATE,
    LayoutError,
    Naming,
    name_part,
    path_for,
    template_check,
)
from archive.models import ChainHead, Document, Entry, Layout, StoredFile, Version

STORAGE_PREFIX = "archive/sha256"


def storage_name_for(sha256: str, extension: str) -> str:
    return f"{STORAGE_PREFIX}/{sha256[:2]}/{sha256}.{name_part(extension) or 'bin'}"


def content_store(*, data: bytes, content_type: str, extension: str) -> StoredFile:
    """The stored file of these bytes, written to storage once whoever files them."""
    sha256 = hashlib.sha256(data).hexdigest()
    found = StoredFile.objects.filter(sha256=sha256).first()
    if found is not None:
        return found
    name = storage_name_for(sha256, extension)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            intact = hashlib.sha256(handle.read()).hexdigest() == sha256
        if not intact:  # a torn write from a crash: write it again
            default_storage.delete(name)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # storage renamed it: the name must be the content's
            default_storage.delete(saved)
            raise OSError(f"The storage would not keep {name} under its own name")
    try:
        with transaction.atomic():
            return StoredFile.objects.create(
                sha256=sha256, size=len(data), content_type=content_type, storage_name=name
            )
    except IntegrityError:  # another filing stored the same bytes meanwhile
        return StoredFile.objects.get(sha256=sha256)


def template_current() -> str:
    layout = Layout.objects.order_by("pk").first()
    return layout.template if layout is not None else DEFAULT_TEMPLATE


def _head_locked() -> ChainHead:
    ChainHead.objects.get_or_create(pk=1)
    return ChainHead.objects.select_for_update().get(pk=1)


def _entry_append(
    head: ChainHead, *, action: str, document: Document, version: Version, at: datetime
) -> Entry:
    values = {
        "seq": head.length + 1, "action": action, "document_id": document.pk,
        "version_id": version.pk, "path": document.path, "sha256": version.file.sha256,
        "size": version.file.size, "at": at,
    }  # fmt: skip
    digest = entry_digest(head.head, values)
    entry = Entry.objects.create(prev_digest=head.head, digest=digest, **values)
    head.head, head.length = digest, entry.seq
    head.save(update_fields=["head", "length"])
    return entry


@dataclass(frozen=True)
class Filed:
    document: Document
    version: Version
    created: bool  # False: the archive already held this content there


def document_file(
    *,
    naming: Naming,
    data: bytes,
    content_type: str,
    source: str,
    account: CashAccount | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    reason: str = "",
    original_name: str = "",
    sender: str = "",
) -> Filed:
    """File `data` under its name. The same content at the same place again changes
    nothing; other content there is a new version that names the one it replaces."""
    stored = content_store(data=data, content_type=content_type, extension=naming.extension)
    now = timezone.now()
    with transaction.atomic():
        head = _head_locked()
        path = path_for(naming, template_current())
        document, _ = Document.objects.get_or_create(
            path=path,
            defaults={
                "function": naming.function, "subject": naming.subject, "kind": naming.kind,
                "label": naming.label, "about_on": naming.about_on, "period": naming.period,
                "extension": naming.extension, "account": account,
                "period_start": period_start, "period_end": period_end,
                "original_name": original_name[:255], "sender": sender[:200],
            },
        )  # fmt: skip
        current = document.versions.order_by("-number").select_related("file").first()
        if current is not None and current.file_id == stored.pk:
            return Filed(document, current, created=False)
        version = Version.objects.create(
            document=document, number=current.number + 1 if current else 1, file=stored,
            replaces=current, source=source, filed_at=now,
            reason=reason or ("corrected by the issuer" if current else ""),
        )  # fmt: skip
        _entry_append(head, action=Entry.Action.FILED, document=document, version=version, at=now)
    return Filed(document, version, created=True)


def naming_of(document: Document) -> Naming:
    assert document.about_on is not None
    return Naming(
        function=document.function, subject=document.subject, kind=document.kind,
        about_on=document.about_on, extension=document.extension, label=document.label,
        period=document.period,
    )  # fmt: skip


def layout_change(*, template: str) -> int:
    """Use `template` from now on: every filed document moves to its new path (a MOVED
    entry in the chain each); the stored files stay where they are. Returns how many
    moved. Refused whole (LayoutError) if the template is bad or two documents would
    land on one path."""
    template_check(template)
    now = timezone.now()
    with transaction.atomic():
        head = _head_locked()
        documents = list(Document.objects.filter(status=Document.Status.FILED))
        new_paths = {d.pk: path_for(naming_of(d), template) for d in documents}
        if len(set(new_paths.values())) != len(new_paths):
            raise LayoutError("Under this template two documents would have the same path.")
        moved = [d for d in documents if new_paths[d.pk] != d.path]
        for document in moved:  # through a temporary path: paths are unique
            document.path = f"~moving/{document.pk}/{new_paths[document.pk]}"
            document.save(update_fields=["path"])
        for document in moved:
            document.path = new_paths[document.pk]
            document.save(update_fields=["path"])
            version = document.versions.select_related("file").order_by("-number").first()
            assert version is not None
            _entry_append(
                head, action=Entry.Action.MOVED, document=document, version=version, at=now
            )
        Layout.objects.update_or_create(pk=1, defaults={"template": template, "changed_at": now})
    return len(moved)
