"""The proofs a statement file meets: its balances in its currency, its opening against
the balance Bulwark holds, running balances line by line, files in any order, balances
without entries, and fee lines joined to their payments across files and the API."""

import itertools
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.core.management import CommandError

from accounts.models import BalanceGap, BalanceSnapshot, CashAccount, Transaction
from accounts.selectors import balance_minor_on
from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import (
    command,
    mt940,
    page_text,
    sample_text,
    stored_state,
    upload,
)
from accounts.wise.normalize import statement_line_from_wise

pytestmark = pytest.mark.django_db
IBAN = "DE89370400440532013000"
END = date(2025, 3, 31)


def _account(**extra) -> CashAccount:
    return CashAccountFactory(currency="EUR", account_number=IBAN, wise_balance_id=None, **extra)


def _import(tmp_path, account: CashAccount, name: str, text: str) -> str:
    """`import_statement FILE --account ID` (the file names that account too)."""
    path = tmp_path / name
    path.write_bytes(text.encode())
    return command(str(path), "--account", str(account.pk))


JAN = mt940(IBAN, "EUR", "1000.00", [("250110", "250.00", "Invoice 1"),
                                     ("250120", "-50.00", "Rent share")],
            opened="241231", closed="250131", number=1)  # fmt: skip
FEB = mt940(IBAN, "EUR", "1200.00", [("250203", "-80.00", "Insurance"),
                                     ("250225", "400.00", "Invoice 2")],
            opened="250131", closed="250228", number=2)  # fmt: skip
MAR = mt940(IBAN, "EUR", "1520.00", [("250305", "-20.00", "Phone"),
                                     ("250328", "100.00", "Invoice 3")],
            opened="250228", closed="250331", number=3)  # fmt: skip
# Mid-February to mid-March: overlaps both.
MID = mt940(IBAN, "EUR", "1120.00", [("250225", "400.00", "Invoice 2"),
                                     ("250305", "-20.00", "Phone")],
            opened="250214", closed="250315", number=4)  # fmt: skip


def test_a_closing_balance_in_another_currency_is_refused(tmp_path):
    account = _account()
    before = stored_state(account)
    wrong = JAN.replace(":62F:C250131EUR1200,00", ":62F:C250131USD1200,00")
    with pytest.raises(CommandError, match=r"Line 9: the closing balance \(:62F:\) is in USD, "
                                           r"the statement in EUR"):  # fmt: skip
        _import(tmp_path, account, "jan.sta", wrong)
    assert stored_state(account) == before


def test_a_camt_balance_in_another_currency_is_refused(owner_client):
    account = CashAccountFactory(currency="EUR")
    text = sample_text("camt053_eur_2025-03.xml").replace(
        '<Amt Ccy="EUR">2389.69</Amt>', '<Amt Ccy="USD">2389.69</Amt>', 1
    )
    page = page_text(upload(owner_client, "camt.xml", text.encode(), account=account.pk))
    assert "Line 29, column 13: the CLBD balance is in USD, the statement in EUR" in page
    assert not Transaction.objects.exists()


def test_an_opening_that_contradicts_the_stored_balance_is_refused_with_both_figures(tmp_path):
    account = _account()
    _import(tmp_path, account, "feb.sta", FEB)
    before = stored_state(account)
    wrong = MAR.replace("C250228EUR1520,00", "C250228EUR1500,00").replace(
        "C250331EUR1600,00", "C250331EUR1580,00"
    )
    with pytest.raises(CommandError) as refused:
        _import(tmp_path, account, "mar.sta", wrong)
    assert "Line 4: the opening balance 1,500.00 EUR on 2025-03-05 does not agree with the " \
           "1,520.00 EUR Bulwark holds for that moment" in str(refused.value)  # fmt: skip
    assert stored_state(account) == before


@pytest.mark.parametrize(
    "order",
    [*itertools.permutations(["jan", "feb", "mar"]), ("mar", "mid", "jan", "feb")],
    ids="-".join,
)
def test_adjacent_and_overlapping_files_in_any_order_end_at_the_banks_balance(tmp_path, order):
    files = {"jan": JAN, "feb": FEB, "mar": MAR, "mid": MID}
    account = _account()
    for name in order:
        _import(tmp_path, account, f"{name}.sta", files[name])

    account.refresh_from_db()
    assert account.opening_balance == Decimal("1000.00")
    assert account.transactions.count() == 6
    assert [balance_minor_on(account, date(2025, m, 27)) for m in (1, 2, 3)] == [
        120000, 152000, 150000,
    ]  # fmt: skip
    assert balance_minor_on(account, END) == 160000
    assert not BalanceGap.objects.filter(account=account, resolved_at__isnull=True).exists()


def test_a_missing_month_is_a_gap_until_its_file_comes(tmp_path):
    account = _account()
    _import(tmp_path, account, "jan.sta", JAN)
    out = _import(tmp_path, account, "mar.sta", MAR)
    assert "Lines are missing before or after this file" in out
    gap = BalanceGap.objects.get(account=account)
    assert (gap.wise_minor, gap.stored_minor) == (152000, 120000)
    assert "Import the statement of those days" in gap.reason
    _import(tmp_path, account, "feb.sta", FEB)
    gap.refresh_from_db()
    assert gap.resolved_at is not None
    assert balance_minor_on(account, END) == 160000


def test_an_older_page_imported_after_a_newer_one_of_the_same_day(tmp_path):
    account = _account()
    first = mt940(IBAN, "EUR", "1000.00", [("250303", "100.00", "Invoice")],
                  opened="250302", closed="250303", number=1)  # fmt: skip
    second = mt940(IBAN, "EUR", "1100.00", [("250303", "-50.00", "Fee")],
                   opened="250303", closed="250303", number=2)  # fmt: skip
    _import(tmp_path, account, "second.sta", second)
    _import(tmp_path, account, "first.sta", first)

    account.refresh_from_db()
    assert account.opening_balance == Decimal("1000.00")  # the older file's opening
    assert balance_minor_on(account, date(2025, 3, 3)) == 105000


def test_a_statement_with_balances_and_no_entries_records_the_balance(owner_client):
    account = CashAccountFactory(currency="EUR", account_number="NL81ASNB0708271685",
                                 wise_balance_id=None)  # fmt: skip
    page = page_text(upload(owner_client, "mt940_asn_quiet.sta", account=account.pk))
    assert "0 new lines, 0 already present" in page

    snapshot = BalanceSnapshot.objects.get(account=account)
    assert (snapshot.balance, snapshot.source) == (Decimal("379.29"), "MT940")
    assert snapshot.taken_at == datetime.combine(date(2025, 3, 10), time.max, tzinfo=UTC)
    account.refresh_from_db()
    assert account.opening_balance == Decimal("379.29")
    assert balance_minor_on(account, END) == 37929
    accounts_page = page_text(owner_client.get("/accounts/"))
    assert "379.29" in accounts_page

    # An earlier file with entries starts before it, and ends where it says.
    upload(owner_client, "mt940_asn.sta")
    account.refresh_from_db()
    assert account.opening_balance == Decimal("444.29")
    assert balance_minor_on(account, END) == 37929
    assert BalanceSnapshot.objects.filter(account=account).count() == 2  # and Mar 5's


def test_a_balance_without_entries_that_contradicts_the_stored_one_is_refused(owner_client):
    account = CashAccountFactory(currency="EUR", account_number="NL81ASNB0708271685")
    upload(owner_client, "mt940_asn_quiet.sta")
    text = sample_text("mt940_asn_quiet.sta").replace("250310EUR379,29", "250311EUR379,30")
    page = page_text(upload(owner_client, "next.sta", text.encode()))
    assert "the opening balance 379.30 EUR on 2025-03-11 does not agree with the 379.29 EUR" in page
    assert BalanceSnapshot.objects.filter(account=account).count() == 1


def test_wise_csv_running_balances_are_checked_line_by_line(owner_client):
    account = CashAccountFactory(currency="EUR")
    tampered = sample_text("wise_eur_2025-03.csv").replace('"-111.23"', '"-111.24"')
    page = page_text(upload(owner_client, "tampered.csv", tampered.encode(), account=account.pk))
    assert (
        "Line 5: the running balance 3345.87 is not the balance before it (3457.10, line 6) "
        "plus the amount -111.24 (3345.86); the file is altered or a row is missing"
    ) in page
    assert not account.transactions.exists()


# --- fee lines and their payments -----------------------------------------------------------

FLAT = sample_text("wise_gbp_flat_2025-03.csv").splitlines()
HEADER, FEE_ROW, CARD_ROW, TRANSFER_ROW = FLAT
PAYMENT_FILE = "\n".join([HEADER, CARD_ROW, TRANSFER_ROW]) + "\n"  # rows newest first
FEE_FILE = "\n".join([HEADER, FEE_ROW]) + "\n"
# The same card payment as Wise's API (and COMPACT statements) report it: fee inside.
API_CARD = {
    "type": "DEBIT", "date": "2025-03-06T12:01:09.114Z",
    "amount": {"value": Decimal("-11.35"), "currency": "GBP"},
    "totalFees": {"value": Decimal("0.35"), "currency": "GBP"},
    "details": {"type": "CARD", "description": "Card transaction of 13.00 EUR issued by Cafe"},
    "runningBalance": {"value": Decimal("188.65"), "currency": "GBP"},
    "referenceNumber": "CARD-4400001",
}  # fmt: skip


def _from_api(account: CashAccount) -> int:
    line = statement_line_from_wise(API_CARD)
    return transactions_ingest(account=account, lines=[line], source="API").created


@pytest.mark.parametrize(
    "order", [("payment", "fee", "api"), ("fee", "payment", "api"), ("api", "fee", "payment"),
              ("fee", "api", "payment")], ids="-".join,
)  # fmt: skip
def test_a_fee_line_and_its_payment_from_another_file_or_the_api_count_once(owner_client, order):
    account = CashAccountFactory(currency="GBP")
    steps = {
        "payment": lambda: upload(owner_client, "payment.csv", PAYMENT_FILE.encode(),
                                  account=account.pk),
        "fee": lambda: upload(owner_client, "fee.csv", FEE_FILE.encode(), account=account.pk),
        "api": lambda: _from_api(account),
    }  # fmt: skip
    for step in order:
        outcome = steps[step]()
        assert "Refused" not in (page_text(outcome) if step != "api" else ""), step

    account.refresh_from_db()
    assert balance_minor_on(account, END) == 18865
    assert account.transactions.filter(reference_number="CARD-4400001").count() == 1
    whole = page_text(upload(owner_client, "flat.csv", "\n".join(FLAT).encode() + b"\n",
                             account=account.pk))  # fmt: skip
    assert "0 new lines" in whole
    assert _from_api(account) == 0
    assert balance_minor_on(account, END) == 18865
