"""A bank's statement file imported on the statement upload page is filed in the archive
under Banking/<institution>/<currency>/ and proved like Wise's, so the completeness
matrix counts its month; the same file again files nothing; an API-fed Wise balance's
uploads are left to the month-end fetch."""

from datetime import date

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import CashAccountFactory, InstitutionFactory
from accounts.tests.statement_files import mt940, sample
from archive.models import Document, StatementProof
from archive.selectors import completeness_matrix

pytestmark = pytest.mark.django_db
IBAN = "DE89370400440532013000"
JAN = mt940(IBAN, "EUR", "1000.00", [("250110", "250.00", "Invoice 1"),
                                     ("250120", "-50.00", "Rent share")],
            opened="241231", closed="250131", number=1)  # fmt: skip


def _upload(client, account, name: str, data: bytes):
    post = {"account": account.pk, "format": "", "file": SimpleUploadedFile(name, data)}
    response = client.post("/accounts/import/", post)
    assert response.status_code == 200
    return response


@pytest.fixture
def bank_account():
    return CashAccountFactory(
        institution=InstitutionFactory(name="Deutsche Bank", kind="BANK"),
        currency="EUR", account_number=IBAN, wise_balance_id=None,
    )  # fmt: skip


def test_an_uploaded_bank_statement_is_filed_proved_and_counted_in_the_matrix(
    owner_client, bank_account
):
    _upload(owner_client, bank_account, "jan.sta", JAN.encode())
    document = Document.objects.get()
    assert document.path == (
        "Banking/Deutsche-Bank/EUR/2025/2025-01-20_statement_deutsche-bank-eur_2025-01.sta"
    )
    assert (document.account, document.period_start) == (bank_account, date(2025, 1, 1))
    with default_storage.open(document.versions.get().file.storage_name, "rb") as handle:
        assert handle.read() == JAN.encode()  # the file as the bank wrote it
    proof = StatementProof.objects.get(account=bank_account, month=date(2025, 1, 1))
    assert proof.status == "AGREES"
    assert (proof.stated_opening_minor, proof.stated_closing_minor) == (100_000, 120_000)
    matrix = completeness_matrix(first_month=date(2024, 12, 1), last_month=date(2025, 2, 1))
    (row,) = [r for r in matrix.rows if r.account == bank_account]
    assert [c.state for c in row.cells][1] == "AGREES"
    assert [c.state for c in row.cells][2] == "HOLE"  # February: due, not filed

    _upload(owner_client, bank_account, "jan-again.sta", JAN.encode())
    assert Document.objects.count() == 1
    assert document.versions.count() == 1


def test_a_wise_balance_fed_by_the_api_is_left_to_the_month_end_fetch(owner_client):
    account = CashAccountFactory(currency="EUR")  # a Wise balance id: the API feeds it
    _upload(owner_client, account, "mt940_eur_2025-03.sta", sample("mt940_eur_2025-03.sta"))
    assert account.transactions.count() == 6
    assert not Document.objects.exists()
