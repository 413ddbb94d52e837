"""Filed statements attached to their bank accounts in Xero, over real HTTP against the
Wise and Xero simulators: once per content, found again after a run that stopped before
recording, and never in audit-only mode."""

import pytest
from django.core.files.storage import default_storage

from archive.links import statements_attach
from archive.models import BooksAttachment, Document
from archive.statements import statements_file
from archive.tests.helpers import MONTH, UNTIL, synced
from ledger.books import BooksError, adapter_for
from ledger.models import BankAccountMapping, Organisation
from ledger.tests.helpers import connected, mapped

pytestmark = pytest.mark.django_db


class _Books:
    def __init__(self, accounts):
        self.accounts = accounts


@pytest.fixture
def books(wise_sim_factory, xero_sim, owner_client, settings):
    _, accounts = synced(wise_sim_factory(until=UNTIL, size=300, seed=7), settings)
    organisation = mapped(owner_client, connected(owner_client, xero_sim), _Books(accounts))
    assert statements_file(months=[MONTH]).filed == 2 * len(accounts)
    return organisation, accounts


def _attached(sim):
    return {
        account_id: [(element["FileName"], data) for element, data in files]
        for account_id, files in sim.org().attachments.items()
    }


def test_each_statement_is_attached_to_its_bank_account_once(books, xero_sim):
    organisation, accounts = books
    result = statements_attach(months=[MONTH])
    assert (result.attached, result.errors) == (len(accounts), [])
    held = _attached(xero_sim)
    for mapping in BankAccountMapping.objects.filter(organisation=organisation):
        pdf = Document.objects.get(account=mapping.cash_account, extension="pdf")
        with default_storage.open(pdf.versions.get().file.storage_name, "rb") as handle:
            stored = handle.read()
        assert held[mapping.chart_account.account_id] == [(pdf.path.rsplit("/", 1)[1], stored)]
    recorded = BooksAttachment.objects.get(chart_account__account_id=next(iter(held)))
    assert recorded.sha256 == recorded.version.file.sha256
    writes = xero_sim.writes

    again = statements_attach(months=[MONTH])

    assert (again.attached, again.already) == (0, len(accounts))
    assert xero_sim.writes == writes
    assert _attached(xero_sim) == held


def test_a_run_that_stopped_before_recording_finds_the_file_and_sends_nothing(books, xero_sim):
    statements_attach(months=[MONTH])
    held, writes = _attached(xero_sim), xero_sim.writes
    BooksAttachment.objects.all().delete()  # attached in Xero, then killed before the record

    result = statements_attach(months=[MONTH])

    assert result.attached == len(books[1])
    assert xero_sim.writes == writes
    assert _attached(xero_sim) == held
    assert BooksAttachment.objects.count() == len(books[1])


def test_audit_only_books_are_never_written_to(books, xero_sim):
    organisation, _ = books
    Organisation.objects.filter(pk=organisation.pk).update(mode=Organisation.Mode.AUDIT_ONLY)
    organisation.refresh_from_db()
    writes = xero_sim.writes

    assert statements_attach(months=[MONTH]).attached == 0
    chart = organisation.mappings.first().chart_account
    with pytest.raises(BooksError, match="Audit-only"):
        adapter_for(organisation).document_attach(
            chart_account=chart, file_name="x.pdf", data=b"%PDF-1.4", key="k"
        )

    assert xero_sim.writes == writes
    assert xero_sim.org().attachments == {}
    assert not BooksAttachment.objects.exists()


def test_the_month_end_task_attaches_what_it_filed(books, xero_sim):
    from accounts.models import WiseConnection
    from archive.tasks import connection_statements_file

    outcome = connection_statements_file(WiseConnection.objects.get().pk, [MONTH.isoformat()])

    assert outcome["filed"] == 0  # filed by the fixture already: nothing twice
    assert outcome["attached"] == len(books[1])
    assert sum(len(files) for files in xero_sim.org().attachments.values()) == len(books[1])
