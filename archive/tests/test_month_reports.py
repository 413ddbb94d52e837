"""The month end files the month's balances and transactions exports and its
reconciliation summary next to the statements: placed by the layout, the same bytes as
the download, nothing twice on a rerun, a new version when the figures change."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.core.files.storage import default_storage

from archive.models import Document
from archive.month_reports import month_reports_file
from archive.selectors import archive_verify
from archive.tests.helpers import MONTH, UNTIL, synced
from ledger.models import ChartAccount, Organisation
from ledger.reconciliation.models import BalanceCheck, Match, Mismatch
from ledger.reconciliation.tests.helpers import line_add

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


@pytest.fixture
def business(wise_sim_factory, settings):
    sim = wise_sim_factory(until=UNTIL, size=300, seed=7)
    _, accounts = synced(sim, settings)
    return accounts


def _text(filed) -> str:
    with default_storage.open(filed.version.file.storage_name, "rb") as handle:
        return handle.read().decode()


def test_the_month_end_files_both_exports_and_the_summary_where_the_layout_says(
    business, client, owner
):
    filed = month_reports_file(month=MONTH, today=TODAY)
    assert [f.document.path for f in filed] == [
        "Books/Balances/2026/2026-09-30_balances_2026-09.csv",
        "Books/Transactions/2026/2026-09-30_transactions_2026-09.csv",
        "Books/Reconciliation/2026/2026-09-30_reconciliation-summary_2026-09.csv",
    ]
    assert all(f.created for f in filed)
    client.force_login(owner)
    download = client.get(
        "/cash/export/transactions/?start=2026-09-01&end=2026-09-30&as_of=2026-09-30"
    )
    assert download.status_code == 200
    got = b"".join(download.streaming_content).decode()
    assert _text(filed[1]) == got
    lines = list(csv.DictReader(io.StringIO(_text(filed[1]))))
    assert lines
    assert {line["date"][:7] for line in lines} == {"2026-09"}
    balances = list(csv.DictReader(io.StringIO(_text(filed[0]))))
    assert {row["as_of"] for row in balances} == {"2026-09-30"}
    assert len(balances) >= len(business)
    assert archive_verify() == []


def test_a_rerun_files_nothing_and_a_changed_export_is_a_new_version(business):
    month_reports_file(month=MONTH, today=TODAY)
    again = month_reports_file(month=MONTH, today=date(2026, 11, 21))
    assert [f.created for f in again] == [False, False, False]
    assert Document.objects.count() == 3
    line_add(business[0], day=date(2026, 9, 14), amount="-12.34", reference="LATE-1")
    changed = month_reports_file(month=MONTH, today=TODAY)
    assert [f.created for f in changed] == [True, True, False]  # no books: summary as was
    assert [f.version.number for f in changed[:2]] == [2, 2]
    assert changed[1].version.replaces == again[1].version
    assert "LATE-1" in _text(changed[1])


def test_the_summary_counts_matches_open_mismatches_by_type_and_the_balance_check(business):
    eur = next(a for a in business if a.currency == "EUR" and a.kind != "SAVINGS")
    organisation = Organisation.objects.create(tenant_id="t-1", name="Quinn Studio")
    bank = ChartAccount.objects.create(
        organisation=organisation, account_id="b-1", name="Wise EUR", type="BANK"
    )
    for n, day in enumerate((date(2026, 9, 3), date(2026, 9, 29), date(2026, 10, 1))):
        Match.objects.create(
            organisation=organisation, method="KEY", signature=f"t{n}|e{n}", score=100,
            account=eur, day=day,
        )  # fmt: skip
    for kind, day, status in (
        ("MISSING_IN_XERO", date(2026, 9, 5), "OPEN"),
        ("MISSING_IN_XERO", date(2026, 9, 6), "OPEN"),
        ("AMOUNT_DIFFERS", date(2026, 9, 7), "RESOLVED"),
        ("AMOUNT_DIFFERS", date(2026, 8, 7), "OPEN"),
    ):
        Mismatch.objects.create(
            organisation=organisation, type=kind, natural_key=f"{kind}{day}", account=eur,
            day=day, status=status,
        )  # fmt: skip
    for day, books in ((date(2026, 9, 29), 100), (date(2026, 9, 30), 12_345)):
        BalanceCheck.objects.create(
            organisation=organisation, account=eur, chart_account=bank, day=day,
            books_minor=books, wise_minor=12_300, currency="EUR",
            books_read_at=datetime(2026, 10, 1, tzinfo=UTC),
        )  # fmt: skip
    summary = month_reports_file(month=MONTH, today=TODAY)[2]
    rows = {row["account"]: row for row in csv.DictReader(io.StringIO(_text(summary)))}
    row = rows[f"{eur.institution.name} {eur.name}"]
    assert (row["matched"], row["open_missing-in-xero"], row["open_amount-differs"]) == (
        "2", "2", "0",
    )  # fmt: skip
    assert (row["balance_checked_on"], row["books_balance"], row["bank_balance"]) == (
        "2026-09-30", "123.45", "123.00",
    )  # fmt: skip
    assert row["balance_agrees"] == "no"
    assert rows["All accounts"]["open_missing-in-xero"] == "2"
    Mismatch.objects.filter(type="MISSING_IN_XERO").update(status="RESOLVED")
    resolved = month_reports_file(month=MONTH, today=TODAY)[2]
    assert resolved.created
    assert resolved.version.number == 2
