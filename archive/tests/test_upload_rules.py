"""Dropped documents are filed by the owner's rules in order (text, sender, amount and
date patterns), with a preview; what no rule files waits in the inbox. Retention says
what may be discarded and discards nothing."""

import io
import os
import time
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from reportlab.pdfgen import canvas

from archive.layout import Naming
from archive.models import Document, Entry, FilingRule
from archive.selectors import archive_verify, discardable, retention_policies
from archive.services import document_drop, document_file

pytestmark = pytest.mark.django_db


def receipt_pdf(*lines: str) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, invariant=1)
    for n, line in enumerate(lines):
        pdf.drawString(72, 750 - 16 * n, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


HETZNER = receipt_pdf(
    "Hetzner Online GmbH", "Invoice R0012345", "Invoice date: 03.11.2026", "Total: 49,00 EUR"
)


def hetzner_rule(**extra):
    values = {
        "order": 10, "name": "Hetzner hosting", "text_pattern": r"hetzner online",
        "amount_pattern": r"^49\.00$", "date_pattern": r"invoice date:\s*([\d.]+)",
        "function": "Purchases", "subject": "Receipts", "kind": "receipt", "label": "hetzner",
    } | extra  # fmt: skip
    return FilingRule.objects.create(**values)


def _upload(client, data, name="R0012345.pdf", sender=""):
    upload = SimpleUploadedFile(name, data, content_type="application/pdf")
    return client.post("/archive/upload/", {"file": upload, "sender": sender}, follow=True)


def test_the_upload_rules_file_a_dropped_receipt(owner_client):
    FilingRule.objects.create(
        order=1, name="Other sender", text_pattern="hetzner", sender_pattern="^nobody$",
        function="Other", subject="Misc", kind="letter",
    )  # fmt: skip
    hetzner_rule()
    response = _upload(owner_client, HETZNER, sender="billing@hetzner.com")
    assert response.status_code == 200
    path = "Purchases/Receipts/2026/2026-11-03_receipt_hetzner.pdf"
    assert path in response.content.decode()
    document = Document.objects.get(path=path)
    assert document.rule.name == "Hetzner hosting"
    assert document.about_on == date(2026, 11, 3)
    assert document.original_name == "R0012345.pdf"
    assert "Hetzner Online GmbH" in document.text
    _upload(owner_client, HETZNER)  # the same bytes again: filed once
    assert Document.objects.count() == 1
    assert Entry.objects.count() == 1
    assert archive_verify() == []


def test_the_first_matching_rule_wins():
    hetzner_rule(order=20, label="second")
    hetzner_rule(order=5, label="first")
    dropped = document_drop(data=HETZNER, name="r.pdf", content_type="application/pdf")
    assert dropped.document.path.endswith("_receipt_first.pdf")


def test_an_unmatched_document_waits_in_the_inbox_and_a_new_rule_files_it(owner_client):
    hetzner_rule(amount_pattern=r"^99\.00$")  # another amount: no match
    response = _upload(owner_client, HETZNER)
    assert "waits in the inbox" in response.content.decode()
    waiting = Document.objects.get()
    assert waiting.status == "INBOX"
    assert waiting.path.startswith("Inbox/")
    form = {
        "order": 1, "name": "Hetzner any amount", "text_pattern": "hetzner",
        "date_pattern": r"invoice date:\s*([\d.]+)", "function": "Purchases",
        "subject": "Receipts", "kind": "receipt", "label": "hetzner", "is_active": "on",
    }  # fmt: skip
    preview = owner_client.post("/archive/rules/", {**form, "preview": "1"})
    assert "Purchases/Receipts/2026/2026-11-03_receipt_hetzner.pdf" in preview.content.decode()
    assert FilingRule.objects.count() == 1  # a preview saves nothing
    waiting.refresh_from_db()
    assert waiting.status == "INBOX"
    saved = owner_client.post("/archive/rules/", form, follow=True)
    assert "1 filed from the inbox" in saved.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "FILED"
    assert waiting.path == "Purchases/Receipts/2026/2026-11-03_receipt_hetzner.pdf"
    assert [e.action for e in Entry.objects.all()] == ["FILED", "MOVED"]
    assert archive_verify() == []


def test_the_owner_files_an_inbox_document_by_hand(owner_client):
    dropped = document_drop(data=b"scan", name="Scan 0001.jpg", content_type="image/jpeg")
    assert not dropped.filed
    prefix = f"doc{dropped.document.pk}"
    response = owner_client.post(
        f"/archive/inbox/{dropped.document.pk}/file/",
        {f"{prefix}-function": "Sales", f"{prefix}-subject": "Invoices",
         f"{prefix}-kind": "invoice", f"{prefix}-label": "acme",
         f"{prefix}-about_on": "2026-10-31"},
        follow=True,
    )  # fmt: skip
    assert "Sales/Invoices/2026/2026-10-31_invoice_acme.jpg" in response.content.decode()


def test_a_bad_pattern_is_refused_and_saves_nothing(owner_client):
    response = owner_client.post(
        "/archive/rules/",
        {"order": 1, "name": "Broken", "text_pattern": "(unclosed", "function": "Other",
         "subject": "Misc", "kind": "letter"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    assert FilingRule.objects.count() == 0


def test_the_accountant_sees_the_pages_and_cannot_upload(accountant_client):
    for url in ("/archive/upload/", "/archive/rules/", "/archive/retention/"):
        assert accountant_client.get(url).status_code == 200
    assert _upload(accountant_client, HETZNER).status_code == 403
    assert Document.objects.count() == 0


def test_retention_says_what_may_be_discarded_and_discards_nothing(owner_client):
    assert retention_policies()["Tax/FBAR"] == 5
    assert retention_policies()["Tax"] == 7
    fbar = Naming(function="Tax", subject="FBAR", kind="fbar-worksheet",
                  about_on=date(2019, 2, 1), period="2018", extension="pdf")  # fmt: skip
    tax = Naming(function="Tax", subject="Returns", kind="return", about_on=date(2019, 4, 1),
                 extension="pdf")  # fmt: skip
    document_file(naming=fbar, data=b"fbar", content_type="application/pdf", source="UPLOAD")
    document_file(naming=tax, data=b"tax", content_type="application/pdf", source="UPLOAD")
    may_go = discardable(today=date(2026, 11, 25))
    assert [d.document.kind for d in may_go] == ["fbar-worksheet"]  # 2019 + 5 < 2026 <= 2019 + 7
    assert may_go[0].kept_until == date(2024, 12, 31)
    owner_client.post("/archive/retention/", {"scope": "Tax/FBAR", "years": 10})
    assert discardable(today=date(2026, 11, 25)) == []
    response = owner_client.post("/archive/retention/", {"scope": "Nowhere", "years": 3})
    assert "does not start with a function" in response.content.decode()
    assert Document.objects.count() == 2


def test_the_watched_folder_files_by_the_rules_and_moves_what_it_took(tmp_path):
    from django.test import override_settings

    from archive.tasks import watch_folder

    hetzner_rule()
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "hetzner.pdf").write_bytes(HETZNER)
    (folder / "IMG 0042.jpg").write_bytes(b"\xff\xd8 a photo")
    (folder / ".partial").write_bytes(b"hidden: left alone")
    (folder / "still-scanning.pdf").write_bytes(b"%PDF-1.4 half")  # written just now
    for name in ("hetzner.pdf", "IMG 0042.jpg"):
        os.utime(folder / name, (time.time() - 60, time.time() - 60))
    with override_settings(ARCHIVE_WATCH_DIR=str(folder)):
        assert watch_folder() == 2
    statuses = dict(Document.objects.values_list("original_name", "status"))
    assert statuses == {"hetzner.pdf": "FILED", "IMG 0042.jpg": "INBOX"}
    assert sorted(p.name for p in folder.iterdir()) == [".partial", ".taken", "still-scanning.pdf"]
    assert sorted(p.name for p in (folder / ".taken").iterdir()) == ["IMG 0042.jpg", "hetzner.pdf"]
