"""Last year's FBAR worksheet is filed once its Treasury year-end rates are out, as the
accountant's masked copy, and never twice."""

from datetime import date

import pytest
from django.core.files.storage import default_storage

from archive.models import Document
from archive.reports import fbar_worksheet_file
from treasury.fbar.tests.factories import lines, wise_account
from treasury.fx.tests.factories import ecb, treasury

pytestmark = pytest.mark.django_db
TODAY = date(2026, 2, 3)


def test_the_worksheet_waits_for_the_treasurys_rates_then_is_filed_once():
    eur = wise_account("EUR", account_number="BE71096123456769")
    lines(eur, (date(2025, 3, 10), "7000.00"))
    ecb(date(2025, 12, 31), USD="1.17")  # the ECB's only: an estimate, not a record yet
    assert fbar_worksheet_file(year=2025, today=TODAY) == []
    treasury(date(2025, 12, 31), "EUR", "0.85")
    filed = fbar_worksheet_file(year=2025, today=TODAY)
    assert [f.document.path for f in filed] == [
        "Tax/FBAR/2025/2025-12-31_fbar-worksheet_2025.pdf",
        "Tax/FBAR/2025/2025-12-31_fbar-worksheet_2025.csv",
    ]
    with default_storage.open(filed[1].version.file.storage_name, "rb") as handle:
        text = handle.read().decode("utf-8-sig")
    assert "BE71096123456769" not in text  # the accountant's copy: masked
    assert "6769" in text
    again = fbar_worksheet_file(year=2025, today=date(2026, 3, 1))
    assert [f.created for f in again] == [False, False]
    assert Document.objects.count() == 2
    assert fbar_worksheet_file(year=2026, today=TODAY) == []  # the year is not over
