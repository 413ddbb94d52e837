"""One template names and places every document; the owner may change it and every
document moves with it, keeping its history."""

from datetime import date

import pytest

from archive.layout import DEFAULT_TEMPLATE, LayoutError, Naming, path_for, template_check
from archive.models import Entry
from archive.selectors import archive_verify
from archive.services import document_file, layout_change

STATEMENT = Naming(
    function="Banking", subject="Wise/EUR", kind="statement", label="wise-eur",
    about_on=date(2026, 11, 30), period="2026-11", extension="pdf",
)  # fmt: skip
FBAR = Naming(
    function="Tax", subject="FBAR", kind="fbar-worksheet", about_on=date(2026, 2, 1),
    period="2025", extension="PDF",
)  # fmt: skip


def test_the_documented_examples():
    assert path_for(STATEMENT) == "Banking/Wise/EUR/2026/2026-11-30_statement_wise-eur_2026-11.pdf"
    assert path_for(FBAR) == "Tax/FBAR/2025/2026-02-01_fbar-worksheet_2025.pdf"


def test_names_are_lowercase_ascii_without_spaces_and_dated_by_what_they_are_about():
    receipt = Naming(
        function="Purchases", subject="Receipts/Büro Zürich", kind="Receipt",
        label="Café Crème & Co", about_on=date(2026, 3, 9), extension="JPEG",
    )  # fmt: skip
    path = path_for(receipt)
    assert path == "Purchases/Receipts/Buro-Zurich/2026/2026-03-09_receipt_cafe-creme-co.jpeg"
    name = path.rsplit("/", 1)[1]
    assert name == name.lower()
    assert name.isascii()
    assert " " not in name
    assert path.isascii()
    assert " " not in path


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{function}/{nope}/{date}_{name}.{ext}", "Unknown placeholders: nope"),
        ("{function}/{date}.{ext}", "needs {name}"),
        ("/{function}/{date}_{name}.{ext}", "may not start with /"),
        ("{function}/../{date}_{name}.{ext}", "contain .."),
        ("{function}/{date_{name}.{ext}", "malformed"),
    ],
)
def test_a_bad_template_is_refused_with_the_reason(template, message):
    with pytest.raises(LayoutError, match=message):
        template_check(template)


@pytest.mark.django_db
def test_a_new_template_moves_every_document_and_keeps_its_history():
    first = document_file(naming=STATEMENT, data=b"v1", content_type="application/pdf",
                          source="WISE")  # fmt: skip
    document_file(naming=STATEMENT, data=b"v2", content_type="application/pdf", source="WISE")
    document_file(naming=FBAR, data=b"fbar", content_type="application/pdf", source="GENERATED")
    moved = layout_change(template="{year}/{function}/{subject}/{date}_{name}.{ext}")
    assert moved == 2
    first.document.refresh_from_db()
    assert first.document.path == "2026/Banking/Wise/EUR/2026-11-30_statement_wise-eur_2026-11.pdf"
    assert [v.number for v in first.document.versions.all()] == [1, 2]
    assert [e.action for e in Entry.objects.all()] == ["FILED", "FILED", "FILED", "MOVED", "MOVED"]
    assert archive_verify() == []
    again = document_file(naming=STATEMENT, data=b"v2", content_type="application/pdf",
                          source="WISE")  # fmt: skip
    assert not again.created
    assert again.document == first.document
    assert layout_change(template=DEFAULT_TEMPLATE) == 2
    first.document.refresh_from_db()
    assert first.document.path == path_for(STATEMENT)


@pytest.mark.django_db
def test_a_template_that_would_merge_two_documents_is_refused_and_moves_nothing():
    other = Naming(**{**STATEMENT.__dict__, "subject": "Bank/EUR"})
    document_file(naming=STATEMENT, data=b"a", content_type="application/pdf", source="WISE")
    document_file(naming=other, data=b"b", content_type="application/pdf", source="WISE")
    with pytest.raises(LayoutError, match="same path"):
        layout_change(template="{function}/{date}_{name}.{ext}")
    assert Entry.objects.count() == 2
    assert archive_verify() == []


@pytest.mark.django_db
def test_the_owner_changes_the_layout_on_the_rules_page(owner_client, accountant_client):
    filed = document_file(naming=STATEMENT, data=b"a", content_type="application/pdf",
                          source="WISE")  # fmt: skip
    assert (
        "{function}/{subject}/{year}/{date}_{name}.{ext}"
        in owner_client.get("/archive/rules/").content.decode()
    )
    refused = owner_client.post("/archive/layout/", {"template": "{date}.{ext}"}, follow=True)
    assert "Layout not changed" in refused.content.decode()
    assert accountant_client.post("/archive/layout/", {"template": "x"}).status_code == 403
    done = owner_client.post(
        "/archive/layout/", {"template": "{year}/{function}/{date}_{name}.{ext}"}, follow=True
    )
    assert "1 document moved" in done.content.decode()
    filed.document.refresh_from_db()
    assert filed.document.path == "2026/Banking/2026-11-30_statement_wise-eur_2026-11.pdf"
