"""Month-end filing over real HTTP against the Wise simulator: every balance's statement
filed (PDF and CAMT.053) with the right names and places, nothing twice on a rerun, and a
statement that differs from Bulwark's record opens a mismatch in the queue."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from archive.models import Document, Entry, StatementProof, StoredFile
from archive.selectors import archive_verify
from archive.statements import months_due, statements_file
from archive.tests.helpers import MONTH, UNTIL, synced
from ledger.models import Organisation
from ledger.reconciliation.models import Mismatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def business(wise_sim_factory, settings):
    sim = wise_sim_factory(until=UNTIL, size=300, seed=7)
    connection, accounts = synced(sim, settings)
    return sim, connection, accounts


def test_a_month_end_files_every_balances_statement_where_the_layout_says(business):
    sim, _, accounts = business
    result = statements_file(months=[MONTH])
    assert result.refused == []
    assert result.months == len(accounts) >= 4
    assert result.filed == 2 * len(accounts)
    paths = set(Document.objects.values_list("path", flat=True))
    for account in accounts:
        stem = f"2026-09-30_statement_wise-{account.currency.lower()}"
        if account.kind == "SAVINGS":
            folder = f"Banking/Wise/{account.currency}/{account.name.replace(' ', '-')}/2026"
            stem += f"-{account.name.lower().replace(' ', '-')}"
        else:
            folder = f"Banking/Wise/{account.currency}/2026"
        assert f"{folder}/{stem}_2026-09.pdf" in paths
        assert f"{folder}/{stem}_2026-09.xml" in paths
    pdf = Document.objects.filter(extension="pdf").first()
    with default_storage.open(pdf.versions.get().file.storage_name, "rb") as handle:
        assert handle.read(7) == b"%PDF-1."
    assert set(StatementProof.objects.values_list("status", flat=True)) == {"AGREES"}
    assert archive_verify() == []
    assert len(sim.requests) > 0


def test_running_it_again_files_nothing_twice(business):
    statements_file(months=[MONTH])
    counts = (StoredFile.objects.count(), Entry.objects.count(), Document.objects.count())
    again = statements_file(months=[MONTH])
    assert again.filed == 0
    assert again.unchanged == counts[2]
    assert (StoredFile.objects.count(), Entry.objects.count(), Document.objects.count()) == counts
    assert StatementProof.objects.count() == again.months


def _synced_without_a_september_line(sim_factory, settings):
    """Bulwark misses one EUR line of September (Wise's feed left it out when Bulwark
    read it); the statement Wise issues now has it."""
    sim = sim_factory(until=UNTIL, size=300, seed=7)
    balance = next(b for b in sim.balances_of() if b.currency == "EUR" and b.type == "STANDARD")
    line = next(
        line for line in balance.lines
        if line["date"].startswith("2026-09") and line["amount"]["value"] > 0
    )  # fmt: skip
    sim.hidden_refs.add(line["referenceNumber"])
    _, accounts = synced(sim, settings)
    sim.hidden_refs.clear()
    eur = next(a for a in accounts if a.wise_balance_id == balance.id)
    return sim, eur, line


def test_a_statement_whose_closing_differs_opens_a_mismatch_once(
    wise_sim_factory, settings, owner_client
):
    Organisation.objects.create(tenant_id="tenant-1", name="Quinn Studio LLC")
    _, eur, line = _synced_without_a_september_line(wise_sim_factory, settings)
    result = statements_file(months=[MONTH])
    assert result.differs == 1
    proof = StatementProof.objects.get(account=eur, month=MONTH)
    assert proof.status == "DIFFERS"
    missing_minor = int(line["amount"]["value"] * 100)
    assert proof.stated_closing_minor - proof.record_closing_minor == missing_minor
    assert proof.stated_opening_minor == proof.record_opening_minor
    assert "closes at" in proof.detail
    mismatch = Mismatch.objects.get(type=Mismatch.Type.STATEMENT_DIFFERS)
    assert mismatch.status == "OPEN"
    assert mismatch.account == eur
    assert mismatch.amount_minor == missing_minor
    assert mismatch.detail["document"].endswith("_statement_wise-eur_2026-09.xml")
    assert proof.mismatch == mismatch
    statements_file(months=[MONTH])
    assert Mismatch.objects.filter(type=Mismatch.Type.STATEMENT_DIFFERS).count() == 1
    assert [e.action for e in mismatch.events.all()] == ["OPENED"]
    others = StatementProof.objects.exclude(account=eur).values_list("status", flat=True)
    assert set(others) == {"AGREES"}
    page = owner_client.get(f"/admin/reconciliation/mismatch/{mismatch.pk}/change/")
    assert page.status_code == 200
    assert "Filed statement differs" in page.content.decode()
    listing = owner_client.get("/admin/reconciliation/mismatch/?type__exact=STATEMENT_DIFFERS")
    assert listing.status_code == 200


def test_reconciliation_leaves_the_archives_mismatches_alone(wise_sim_factory, settings):
    from ledger.reconciliation.services.loading import Scope
    from ledger.reconciliation.services.runs import RunResult
    from ledger.reconciliation.services.storing import mismatches_store

    organisation = Organisation.objects.create(tenant_id="tenant-1", name="Quinn")
    _, eur, _ = _synced_without_a_september_line(wise_sim_factory, settings)
    statements_file(months=[MONTH])
    scope = Scope(books={}, accounts={eur.pk}, full=True)
    mismatches_store(organisation, scope, [], {}, datetime.now(UTC), RunResult())
    assert Mismatch.objects.get(type=Mismatch.Type.STATEMENT_DIFFERS).status == "OPEN"


def test_the_command_files_a_range_and_the_beat_files_the_months_just_ended(business):
    out = StringIO()
    call_command("file_statements", "--since", "2026-08", "--until", "2026-09", stdout=out)
    assert "documents filed" in out.getvalue()
    assert set(StatementProof.objects.values_list("month", flat=True)) == {
        MONTH.replace(month=8), MONTH,
    }  # fmt: skip
    assert months_due(UNTIL.date()) == [MONTH.replace(month=9), MONTH.replace(month=10)]


CAMT = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.10"><BkToCstmrStmt><Stmt>
<Acct><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
<Amt Ccy="EUR">10.50</Amt><CdtDbtInd>DBIT</CdtDbtInd></Bal>
%s
</Stmt></BkToCstmrStmt></Document>"""
CLOSING = (
    b'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">20.00</Amt>'
    b"<CdtDbtInd>CRDT</CdtDbtInd></Bal>"
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (CAMT % CLOSING, (-1050, 2000, "")),
        (CAMT % b"", (None, None, "no opening (OPBD) or closing (CLBD) balance")),
        (CAMT.replace(b"<Ccy>EUR", b"<Ccy>USD") % CLOSING, (None, None, "in USD, not EUR")),
        (CAMT % CLOSING.replace(b"20.00", b"20.005"), (None, None, "cannot be read")),
        (b"<not xml", (None, None, "cannot be read")),
        (b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>', (None, None, "DOCTYPE: refused")),
    ],
)
def test_the_twin_is_read_for_its_balances_and_anything_else_is_unreadable(data, expected):
    from archive.statements import _stated

    opening, closing, problem = _stated(data, "EUR")
    assert (opening, closing) == expected[:2]
    assert expected[2] in problem
    assert bool(problem) == bool(expected[2])


@pytest.mark.django_db(transaction=True)
def test_two_month_ends_at_once_file_each_statement_once(wise_sim_factory, settings):
    from accounts.tests.wise_helpers import run_concurrently

    sim = wise_sim_factory(until=UNTIL, size=300, seed=7)
    _, accounts = synced(sim, settings)
    results = run_concurrently(lambda: statements_file(months=[MONTH]))
    assert sum(r.filed for r in results) == 2 * len(accounts)
    assert Document.objects.count() == Entry.objects.count() == 2 * len(accounts)
    assert StatementProof.objects.count() == len(accounts)
    assert archive_verify() == []
