"""Documents are stored once by content, never overwritten, and `verify_archive` names
any file removed or changed and any broken link of the chain."""

from datetime import date
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from archive.layout import Naming
from archive.models import Document, Entry, StoredFile, Version
from archive.selectors import archive_verify
from archive.services import document_file

pytestmark = pytest.mark.django_db

STATEMENT = Naming(
    function="Banking", subject="Wise/EUR", kind="statement", label="wise-eur",
    about_on=date(2026, 11, 30), period="2026-11", extension="pdf",
)  # fmt: skip
RECEIPT = Naming(
    function="Purchases", subject="Receipts", kind="receipt", label="hetzner",
    about_on=date(2026, 11, 3), extension="pdf",
)  # fmt: skip


def _file(naming=STATEMENT, data=b"%PDF-1.4 statement", **extra):
    return document_file(
        naming=naming, data=data, content_type="application/pdf", source="UPLOAD", **extra
    )


def _verify():
    out = StringIO()
    try:
        call_command("verify_archive", stdout=out)
    except CommandError as exc:
        return False, out.getvalue() + str(exc)
    return True, out.getvalue()


def test_the_same_bytes_are_stored_once_and_filed_once():
    first = _file()
    again = _file()
    assert first.created
    assert not again.created
    assert again.version == first.version
    other = _file(RECEIPT)  # the same bytes, another document: one stored file
    assert other.document != first.document
    assert StoredFile.objects.count() == 1
    assert Entry.objects.count() == 2
    stored = StoredFile.objects.get()
    assert default_storage.exists(stored.storage_name)
    assert stored.storage_name == f"archive/sha256/{stored.sha256[:2]}/{stored.sha256}.pdf"


def test_a_corrected_document_is_a_new_version_naming_the_one_it_replaces():
    first = _file()
    corrected = _file(data=b"%PDF-1.4 statement, corrected", reason="Wise reissued it")
    assert corrected.document == first.document
    assert corrected.version.number == 2
    assert corrected.version.replaces == first.version
    assert corrected.version.reason == "Wise reissued it"
    first.version.refresh_from_db()
    assert first.version.file.sha256 != corrected.version.file.sha256
    with default_storage.open(first.version.file.storage_name) as handle:
        assert handle.read() == b"%PDF-1.4 statement"  # the original is kept as it was
    assert [e.action for e in Entry.objects.all()] == ["FILED", "FILED"]


def test_verify_holds_for_an_intact_archive():
    _file()
    _file(RECEIPT, data=b"%PDF-1.4 receipt")
    ok, out = _verify()
    assert ok, out
    assert "2 files, 2 chain entries" in out


def test_a_deleted_file_is_named(archive_storage):
    filed = _file()
    default_storage.delete(filed.version.file.storage_name)
    ok, out = _verify()
    assert not ok
    assert "Banking/Wise/EUR/2026/2026-11-30_statement_wise-eur_2026-11.pdf" in out
    assert "file missing from storage" in out


def test_a_changed_byte_is_named(archive_storage):
    filed = _file()
    _file(RECEIPT, data=b"%PDF-1.4 receipt")
    location = archive_storage / filed.version.file.storage_name
    data = bytearray(location.read_bytes())
    data[-1] ^= 1
    location.write_bytes(bytes(data))
    problems = archive_verify()
    assert [p.path for p in problems] == [filed.document.path]
    assert "file changed" in problems[0].reason


def test_a_changed_entry_breaks_the_chain_there():
    _file()
    second = _file(RECEIPT, data=b"%PDF-1.4 receipt")
    _file(data=b"%PDF-1.4 corrected")
    Entry.objects.filter(seq=2).update(path="Purchases/Receipts/2026/elsewhere.pdf")
    problems = archive_verify()
    assert [(p.path, p.reason) for p in problems] == [
        ("Purchases/Receipts/2026/elsewhere.pdf", "chain: entry changed")
    ]
    assert second.document.path != "Purchases/Receipts/2026/elsewhere.pdf"


def test_a_removed_entry_or_a_removed_last_entry_is_noticed():
    _file()
    _file(RECEIPT, data=b"%PDF-1.4 receipt")
    last = Entry.objects.get(seq=2)
    version = last.version
    last.delete()
    reasons = [p.reason for p in archive_verify()]
    assert "chain: entries removed from the end of the chain" in reasons
    assert f"version {version.pk} has no chain entry of its file" in reasons


def test_a_version_pointed_at_other_content_is_noticed():
    first = _file()
    other = _file(RECEIPT, data=b"%PDF-1.4 receipt")
    Version.objects.filter(pk=first.version.pk).update(file=other.version.file)
    problems = archive_verify()
    assert [p.path for p in problems] == [first.document.path]
    assert Document.objects.count() == 2


def test_the_admin_shows_the_records_and_lets_nobody_edit_them(owner_client, accountant_client):
    filed = _file()
    for client in (owner_client, accountant_client):
        for model in ("document", "version", "storedfile", "entry", "statementproof"):
            assert client.get(f"/admin/archive/{model}/").status_code == 200, model
    page = owner_client.get(f"/admin/archive/document/{filed.document.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # read-only, even for the owner
    assert owner_client.post(f"/admin/archive/document/{filed.document.pk}/delete/",
                             {"post": "yes"}).status_code == 403  # fmt: skip
