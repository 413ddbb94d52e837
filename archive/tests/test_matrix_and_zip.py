"""The completeness matrix shows every month's statement and proof and every hole, on
its page and on the dashboard; a period's ZIP holds its files and a manifest that
matches them. Owner and accountant both read them."""

import csv
import hashlib
import io
import zipfile
from datetime import UTC, date, datetime

import pytest
import time_machine

from archive.models import Document
from archive.selectors import HOLE, NOT_DUE, completeness_matrix
from archive.statements import statements_file
from archive.status import archive_status_items
from archive.tests.helpers import UNTIL, synced
from treasury.cashview.status import status_items

pytestmark = pytest.mark.django_db

JULY, AUGUST, SEPTEMBER, OCTOBER = (date(2026, m, 1) for m in (7, 8, 9, 10))


@pytest.fixture
def filed_with_a_hole(wise_sim_factory, settings):
    """July and September filed for every balance; August is nobody's."""
    sim = wise_sim_factory(until=UNTIL, size=300, seed=7)
    _, accounts = synced(sim, settings)
    statements_file(months=[JULY, SEPTEMBER])
    return accounts


@pytest.fixture
def in_november():
    with time_machine.travel(datetime(2026, 11, 25, 9, tzinfo=UTC), tick=True):
        yield


def test_the_matrix_shows_each_month_and_the_planted_hole(filed_with_a_hole):
    matrix = completeness_matrix(first_month=date(2025, 1, 1), last_month=OCTOBER)
    for row in matrix.rows:
        states = {cell.month: cell.state for cell in row.cells}
        assert states[JULY] == states[SEPTEMBER] == "AGREES", row.account
        assert states[AUGUST] == HOLE
        assert states[OCTOBER] == HOLE
        assert states[date(2025, 1, 1)] == NOT_DUE  # before the account's record starts
    assert matrix.holes >= 2 * len(filed_with_a_hole)
    assert matrix.differences == 0


def test_the_page_shows_the_hole_to_owner_and_accountant(
    filed_with_a_hole, owner_client, accountant_client, in_november, django_assert_num_queries
):
    with django_assert_num_queries(5):  # session, user, role; accounts, statements + proofs
        response = accountant_client.get("/archive/?months=6")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-month="2026-08" data-state="HOLE"' in page
    assert 'data-month="2026-09" data-state="AGREES"' in page
    assert "months missing" in page
    assert owner_client.get("/archive/").status_code == 200
    assert accountant_client.post("/archive/").status_code == 403


def test_a_bad_months_parameter_is_a_400(owner_client):
    assert owner_client.get("/archive/?months=0").status_code == 400
    assert owner_client.get("/archive/?months=x").status_code == 400


def test_the_dashboard_says_what_is_missing(filed_with_a_hole):
    items = archive_status_items(date(2026, 11, 25))
    assert [i.key for i in items] == ["archive.completeness"]
    assert items[0].level == "warn"
    assert "missing" in items[0].value
    assert items[0].url == "/archive/"
    assert "archive.completeness" in [i.key for i in status_items(date(2026, 11, 25))]


def test_the_zip_holds_the_periods_files_and_its_manifest_matches_them(
    filed_with_a_hole, accountant_client
):
    response = accountant_client.get("/archive/download/?period=2026-09")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="bulwark-archive-2026-09.zip"' in response["Content-Disposition"]
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(bundle.namelist())
    assert "manifest.csv" in names
    rows = list(csv.DictReader(io.StringIO(bundle.read("manifest.csv").decode())))
    files = names - {"manifest.csv"}
    assert {row["file"] for row in rows} == files
    expected = set(Document.objects.filter(period_start=SEPTEMBER).values_list("path", flat=True))
    assert files == expected
    assert len(files) == 2 * len(filed_with_a_hole)
    for row in rows:
        data = bundle.read(row["file"])
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert int(row["size"]) == len(data)
        assert row["proof_status"] == "agrees with Bulwark's record"
        assert "opening" in row["proves"]
        assert "closing" in row["proves"]
        assert row["file"].startswith("Banking/Wise/")


def test_a_zip_of_a_year_and_a_malformed_period(filed_with_a_hole, owner_client):
    response = owner_client.get("/archive/download/?period=2026")
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len(bundle.namelist()) == 1 + 4 * len(filed_with_a_hole)
    for bad in ("2026-13", "26", "2026-9", "", "1900"):
        assert owner_client.get(f"/archive/download/?period={bad}").status_code == 400


def test_each_filed_month_links_to_its_statement(filed_with_a_hole, accountant_client, in_november):
    page = accountant_client.get("/archive/?months=6").content.decode()
    pdf = Document.objects.filter(period_start=SEPTEMBER, extension="pdf").first()
    assert f'href="/archive/documents/{pdf.pk}/"' in page
    response = accountant_client.get(f"/archive/documents/{pdf.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-1.")
    assert accountant_client.get(f"/archive/documents/{pdf.pk}/?version=9").status_code == 404
    assert accountant_client.get(f"/archive/documents/{pdf.pk}/?version=x").status_code == 400


def test_an_uploaded_page_is_a_download_never_a_page_of_the_site(owner_client):
    from archive.services import document_drop

    dropped = document_drop(data=b"<script>alert(1)</script>", name="x.html",
                            content_type="text/html")  # fmt: skip
    response = owner_client.get(f"/archive/documents/{dropped.document.pk}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
