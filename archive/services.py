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
from archive.models import (
    ChainHead,
    Document,
    Entry,
    FilingRule,
    Function,
    Layout,
    RetentionPolicy,
    StoredFile,
    Version,
)
from archive.rules import RuleInput, document_text, extension_of, rules_first

STORAGE_PREFIX = "archive/sha256"


def storage_name_for(sha256: str, extension: str) -> str:
    return f"{STORAGE_PREFIX}/{sha256[:2]}/{sha256}.{name_part(extension) or 'bin'}"


def _intact(name: str, sha256: str) -> bool:
    with default_storage.open(name, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest() == sha256


def content_store(*, data: bytes, content_type: str, extension: str) -> StoredFile:
    """The stored file of these bytes, written to storage once whoever files them."""
    sha256 = hashlib.sha256(data).hexdigest()
    found = StoredFile.objects.filter(sha256=sha256).first()
    if found is not None:
        return found
    name = storage_name_for(sha256, extension)
    if default_storage.exists(name) and not _intact(name, sha256):
        default_storage.delete(name)  # a torn write from a crash: write it again
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # another filer wrote the same bytes meanwhile: keep theirs
            default_storage.delete(saved)
            if not _intact(name, sha256):
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


# --- dropped documents: rules, the inbox -------------------------------------------------


@dataclass(frozen=True)
class Dropped:
    """What `document_drop` did: filed by a rule, or put in the inbox (and why)."""

    document: Document
    filed: bool
    reason: str


def _inbox_add(
    *, data: bytes, name: str, content_type: str, sender: str, text: str, reason: str
) -> Document:
    stored = content_store(data=data, content_type=content_type, extension=extension_of(name))
    now = timezone.now()
    with transaction.atomic():
        head = _head_locked()
        path = f"Inbox/{stored.sha256[:12]}_{name_part(name) or 'document'}"
        document, created = Document.objects.get_or_create(
            path=path,
            defaults={
                "status": Document.Status.INBOX, "extension": extension_of(name),
                "original_name": name[:255], "sender": sender[:200], "text": text,
            },
        )  # fmt: skip
        if created:
            version = Version.objects.create(
                document=document, number=1, file=stored, source=Version.Source.UPLOAD,
                reason=reason[:300], filed_at=now,
            )  # fmt: skip
            _entry_append(
                head, action=Entry.Action.FILED, document=document, version=version, at=now
            )
    return document


def document_drop(*, data: bytes, name: str, content_type: str, sender: str = "") -> Dropped:
    """An uploaded (or watched-folder) document: filed by the first rule that matches,
    else into the inbox. The same bytes dropped twice are filed once."""
    text = document_text(data, content_type)
    verdict = rules_first(
        FilingRule.objects.filter(is_active=True), RuleInput(name=name, text=text, sender=sender)
    )
    if verdict is not None and verdict.about_on is not None:
        filed = document_file(
            naming=verdict.naming(extension_of(name)), data=data, content_type=content_type,
            source=Version.Source.UPLOAD, original_name=name, sender=sender,
        )  # fmt: skip
        Document.objects.filter(pk=filed.document.pk).update(rule=verdict.rule, text=text)
        return Dropped(filed.document, True, f"Filed by the rule {verdict.rule.name!r}")
    reason = (
        f"The rule {verdict.rule.name!r} matched, but no date was found in it"
        if verdict is not None
        else "No filing rule matched"
    )
    document = _inbox_add(data=data, name=name, content_type=content_type, sender=sender,
                          text=text, reason=reason)  # fmt: skip
    return Dropped(document, False, reason)


def inbox_file(*, document: Document, naming: Naming, rule: FilingRule | None = None) -> Document:
    """File a document waiting in the inbox under `naming` (a MOVED entry in the chain).
    Refused (LayoutError) if another document is filed at that path already."""
    now = timezone.now()
    with transaction.atomic():
        head = _head_locked()
        document = Document.objects.select_for_update().get(pk=document.pk)
        if document.status != Document.Status.INBOX:
            raise LayoutError("This document is filed already.")
        path = path_for(naming, template_current())
        if Document.objects.filter(path=path).exists():
            raise LayoutError(f"A document is filed at {path} already.")
        document.status, document.path = Document.Status.FILED, path
        document.function, document.subject, document.kind = (
            naming.function, naming.subject, naming.kind,
        )  # fmt: skip
        document.label, document.about_on, document.period = (
            naming.label, naming.about_on, naming.period,
        )  # fmt: skip
        document.extension, document.rule = naming.extension, rule
        document.save()
        version = document.versions.select_related("file").order_by("-number").first()
        assert version is not None
        _entry_append(head, action=Entry.Action.MOVED, document=document, version=version, at=now)
    return document


def inbox_apply_rules() -> int:
    """Run the rules over the inbox again (after the owner added one): how many filed."""
    rules = list(FilingRule.objects.filter(is_active=True))
    filed = 0
    for document in Document.objects.filter(status=Document.Status.INBOX):
        verdict = rules_first(
            rules, RuleInput(document.original_name, document.text, document.sender)
        )
        if verdict is None or verdict.about_on is None:
            continue
        try:
            inbox_file(document=document, naming=verdict.naming(document.extension),
                       rule=verdict.rule)  # fmt: skip
        except LayoutError:
            continue
        filed += 1
    return filed


def retention_set(*, scope: str, years: int) -> RetentionPolicy:
    """How long documents of `scope` (a function, or a function and subject such as
    `Tax/FBAR`) are kept, in years after the end of the year they are about."""
    if not 1 <= years <= 100:
        raise ValueError("Keep documents from 1 to 100 years.")
    if scope.split("/", 1)[0] not in Function.values:
        raise ValueError(f"{scope!r} does not start with a function.")
    policy, _ = RetentionPolicy.objects.update_or_create(scope=scope, defaults={"years": years})
    return policy
