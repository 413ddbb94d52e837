"""The transactions page says what each line is booked as, how many lines match the
filters and what they add up to in each currency."""

import re
from dataclasses import replace

import pytest

from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line
from ledger.rules.models import Categorization

pytestmark = pytest.mark.django_db
TRANSACTIONS = "/transactions/"


@pytest.fixture
def lines():
    eur = CashAccountFactory(currency="EUR", name="EUR balance")
    usd = CashAccountFactory(currency="USD", name="USD balance")
    transactions_ingest(account=eur, source="API", lines=[
        replace(line("100.00", day=0), description="Client payment"),
        replace(line("-20.00", day=1), description="Figma"),
        replace(line("-1.50", day=2), description="Wise fee"),
    ])  # fmt: skip
    transactions_ingest(account=usd, source="API", lines=[line("-7.00", currency="USD", day=3)])
    booked = {t.description: t for t in eur.transactions.all()}
    Categorization.objects.create(transaction=booked["Figma"], account_code="485")
    Categorization.objects.create(transaction=booked["Wise fee"], treatment="FEE")
    Categorization.objects.create(transaction=booked["Client payment"])  # no code yet
    return eur, usd


def category_of(html: str, description: str) -> str:
    row = re.search(rf"<tr data-line=[^>]*>((?:(?!</tr>).)*{description}.*?)</tr>", html, re.S)
    cell = re.search(r"<td data-category>(.*?)</td>", row.group(1), re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", cell).split())


def test_each_line_shows_its_category(owner_client, lines):
    html = owner_client.get(TRANSACTIONS).content.decode()
    assert "<th>Category</th>" in html
    assert category_of(html, "Figma") == "485"
    assert category_of(html, "Wise fee") == "Bank fee"
    assert category_of(html, "Client payment") == "Uncategorized"
    assert category_of(html, "Line -7.00") == "—"  # the rules have not seen it yet


def test_the_count_and_the_totals_per_currency_follow_the_filters(owner_client, lines):
    eur, _ = lines
    html = owner_client.get(TRANSACTIONS).content.decode()
    totals = re.search(r'<div class="tx-totals".*?</div>\s*</div>', html, re.S).group(0)
    assert "3 EUR lines" in totals
    assert "in 100.00 EUR" in totals
    assert "out \u221221.50 EUR" in totals
    assert "net +78.50 EUR" in totals
    assert "1 USD line" in totals
    assert "4 lines in all" in html
    narrowed = owner_client.get(TRANSACTIONS, {"q": "figma"}).content.decode()
    assert "1 EUR line" in narrowed
    assert "USD line" not in narrowed
    assert "1 line in all, matching the filters" in narrowed
    by_account = owner_client.get(TRANSACTIONS, {"account": eur.pk}, HTTP_HX_REQUEST="true")
    assert "3 lines in all, matching the filters" in by_account.content.decode()  # in the region
