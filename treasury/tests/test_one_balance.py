"""One figure per account per day on every page and export, whatever the source.

A bank account whose balances were entered by hand (month ends, like the demo's DKB
account) and a Wise balance whose last reading came after its last stored line are shown
by the dashboard, the Accounts page, the balances export (CSV and XLSX), the FBAR page,
the Books page and reconciliation (its balance check and the admin's mismatch page), all
through the real pages, with Xero's side read back from the simulator over HTTP.
"""

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from accounts.models import BalanceSnapshot, CashAccount
from ledger import services as books
from ledger.reconciliation.models import BalanceCheck, Mismatch
from ledger.reconciliation.services import reconcile
from ledger.tests.helpers import connected
from treasury.fbar.services import manual_balance_set
from treasury.fbar.tests.factories import bank_account, lines, wise_account
from treasury.money import money_format

pytestmark = pytest.mark.django_db


def month_end(day):
    return day.replace(day=1) - timedelta(days=1)


def cell(html: str, account: CashAccount, marker: str) -> str:
    """The text of the `marker` cell in the row of `account`."""
    row = re.search(rf'data-account="{account.pk}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row for {account}"
    found = re.search(rf"<td[^>]*{marker}[^>]*>(.*?)</td>", row.group(1), re.S)
    assert found, f"no {marker} cell for {account}"
    return re.sub(r"<[^>]+>", " ", found.group(1))


@pytest.fixture
def accounts():
    today = timezone.localdate()
    last = month_end(today)
    dkb = bank_account("EUR", name="DKB Girokonto")
    for day, balance in ((month_end(month_end(last)), "2100.00"), (month_end(last), "2750.00"),
                         (last, "2740.00")):  # fmt: skip
        manual_balance_set(account=dkb, year=day.year, month=day.month, balance=Decimal(balance))
    wise = wise_account("GBP", opened_on=last - timedelta(days=60))
    lines(wise, (last - timedelta(days=40), "500.00"), (last - timedelta(days=20), "-120.00"))
    # Wise read 410.00 after the last stored line (a payment the statement has not given yet).
    BalanceSnapshot.objects.create(
        account=wise, taken_at=datetime.combine(last - timedelta(days=3), time(9), tzinfo=UTC),
        balance_minor=41000, source="WISE",
    )  # fmt: skip
    return {"dkb": (dkb, Decimal("2740.00")), "wise": (wise, Decimal("410.00")), "day": last}


def test_every_page_and_export_shows_one_figure_for_an_account_and_day(
    owner_client, xero_sim, accounts
):
    day, today = accounts["day"], timezone.localdate()
    expected = {account.pk: (account, amount) for account, amount in
                (accounts["dkb"], accounts["wise"])}  # fmt: skip

    dashboard = owner_client.get("/", {"as_of": day.isoformat(), "base": "EUR"}).content.decode()
    today_dashboard = owner_client.get("/", {"base": "EUR"}).content.decode()
    accounts_page = owner_client.get("/accounts/").content.decode()
    export = owner_client.get("/cash/export/balances/", {"as_of": day.isoformat()})
    exported = {
        row["account"]: Decimal(row["balance"])
        for row in csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    }
    xlsx = owner_client.get("/cash/export/balances/", {"as_of": day.isoformat(), "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))["Data"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    in_xlsx = {
        row[header.index("account")]: Decimal(str(row[header.index("balance")]))
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    fbar = owner_client.get(f"/fbar/{today.year}/").content.decode()

    for account, amount in expected.values():
        shown = money_format(amount, account.currency)
        assert shown in cell(dashboard, account, "data-balance"), account
        assert shown in cell(today_dashboard, account, "data-balance"), account
        assert shown in cell(accounts_page, account, "data-balance"), account
        assert exported[account.name] == amount
        assert in_xlsx[account.name] == amount
        assert shown in cell(fbar, account, "data-year-end"), account
    assert "entered by hand" in cell(accounts_page, accounts["dkb"][0], "data-balance")

    # The books: both accounts mapped to new Xero bank accounts, read back, reconciled.
    organisation = connected(owner_client, xero_sim)
    mapping = {f"cash_{pk}": "new" for pk in expected}
    mapping.update({"fee": "404", "fx_clearing": "new", "suspense": "new"})
    assert owner_client.post("/books/xero/mapping/", mapping).status_code == 302
    assert books.books_pull(organisation_id=organisation.pk).status == "SUCCEEDED"
    assert reconcile(organisation_id=organisation.pk).status == "SUCCEEDED"

    books_page = owner_client.get("/books/xero/").content.decode()
    for account, amount in expected.values():
        check = BalanceCheck.objects.get(account=account, day=today)
        assert check.wise_minor == int(amount * 100)
        assert money_format(amount, account.currency) in cell(books_page, account, "data-bulwark")
    mismatch = Mismatch.objects.get(
        account=accounts["dkb"][0], type=Mismatch.Type.BALANCE_DIFFERS
    )  # Xero holds nothing for the hand-entered account: the difference is the whole balance
    admin = owner_client.get(f"/admin/reconciliation/mismatch/{mismatch.pk}/change/")
    assert money_format(Decimal("2740.00"), "EUR") in admin.content.decode()
