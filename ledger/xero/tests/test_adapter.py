"""The Xero adapter behind the books seam, over real HTTP against the simulator: the
operations the books' services do not run themselves (look-up by posting key, balances),
and writes refused in audit-only mode before they reach the wire."""

import pytest

from accounts.tests.factories import CashAccountFactory
from ledger import services
from ledger.books import BooksError, adapter_for
from ledger.books.keys import posting_key
from ledger.models import BankBalance, Organisation, Posting
from ledger.tests.factories import wise_year
from ledger.tests.helpers import connected, mapped

pytestmark = pytest.mark.django_db


def test_postings_are_looked_up_by_their_key_and_a_key_not_posted_is_absent(owner_client, xero_sim):
    books = wise_year(n=40)
    organisation = mapped(owner_client, connected(owner_client, xero_sim), books)
    assert services.books_push(organisation_id=organisation.pk).status == "SUCCEEDED"
    posted = dict(Posting.objects.values_list("key", "remote_id"))
    assert len(posted) == 40
    Posting.objects.all().delete()  # what is found is what Xero holds, not Bulwark's records

    found = adapter_for(organisation).postings_lookup([*posted, posting_key(10**9)])

    assert found == posted


def test_bank_balances_are_read_for_every_mapped_account(owner_client, xero_sim):
    books = wise_year(n=40)
    organisation = mapped(owner_client, connected(owner_client, xero_sim), books)
    mapped_accounts = organisation.mappings.count()

    stored = adapter_for(organisation).bank_balances()

    assert stored == mapped_accounts
    assert BankBalance.objects.filter(organisation=organisation).count() == mapped_accounts


def test_audit_only_books_refuse_to_create_an_account(owner_client, xero_sim):
    organisation = connected(owner_client, xero_sim, posts=False)
    before = len(xero_sim.org().accounts)

    with pytest.raises(BooksError, match="Audit-only"):
        adapter_for(organisation).bank_account_ensure(
            CashAccountFactory(currency="EUR"), name="Wise EUR"
        )

    assert len(xero_sim.org().accounts) == before
    assert Organisation.objects.get().provider == "xero"
