"""The provider-neutral migration carries books connected before it across unchanged:
every row, every id, every figure, with `provider` 'xero'."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("ledger", "0003_tax_rates_and_tracking_options"),
    ("reconciliation", "0002_accept_with_the_right_side"),
]
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _xero_books_before(apps) -> dict[str, int]:
    """What a Xero install held before: an organisation, its connection, chart, mapping,
    a posting, an entry, a balance, a cursor and a balance check."""
    institution = apps.get_model("accounts", "Institution").objects.create(name="Wise")
    cash = apps.get_model("accounts", "CashAccount").objects.create(
        institution=institution, name="Wise EUR", currency="EUR"
    )
    line = apps.get_model("accounts", "Transaction").objects.create(
        account=cash, seq=1, natural_key="wise:1", booked_at=AT, booked_on=AT.date(),
        direction="DEBIT", currency="EUR", amount_minor=-100437, source="WISE", digest="d1",
    )  # fmt: skip
    org = apps.get_model("ledger", "XeroOrganisation").objects.create(
        tenant_id="t-1", name="Demo Ltd", base_currency="USD", mode="POSTS"
    )
    apps.get_model("ledger", "XeroConnection").objects.create(
        organisation=org, status="CONNECTED", xero_connection_id="c-1", refresh_token="r-1"
    )
    bank = apps.get_model("ledger", "XeroAccount").objects.create(
        organisation=org, account_id="a-bank", code="090", name="Wise EUR", type="BANK"
    )
    apps.get_model("ledger", "BankAccountMapping").objects.create(
        organisation=org, cash_account=cash, xero_account=bank
    )
    posting = apps.get_model("ledger", "Posting").objects.create(
        organisation=org, transaction=line, key="bulwark:t1", state="POSTED",
        xero_id="bt-1", total_minor=100437, currency="EUR",
    )  # fmt: skip
    entry = apps.get_model("ledger", "LedgerEntry").objects.create(
        organisation=org, kind="BANK_TRANSACTION", xero_id="bt-1", xero_type="SPEND",
        xero_account=bank, bank_account_id="a-bank", date=AT.date(), amount_minor=-100437,
        currency="EUR", posting_key="bulwark:t1", status="AUTHORISED", updated_at_utc=AT,
    )  # fmt: skip
    balance = apps.get_model("ledger", "XeroBankBalance").objects.create(
        organisation=org, xero_account=bank, as_of=date(2026, 3, 2), currency="EUR",
        opening_minor=0, received_minor=0, spent_minor=100437, closing_minor=-100437,
    )  # fmt: skip
    apps.get_model("ledger", "PullCursor").objects.create(
        organisation=org, stream="bank_transactions", modified_since=AT
    )
    check = apps.get_model("reconciliation", "BalanceCheck").objects.create(
        organisation=org, account=cash, xero_account=bank, day=date(2026, 3, 2),
        xero_minor=-100437, wise_minor=-100437, currency="EUR", xero_read_at=AT,
    )  # fmt: skip
    return {
        "org": org.pk, "bank": bank.pk, "posting": posting.pk, "entry": entry.pk,
        "balance": balance.pk, "check": check.pk, "cash": cash.pk,
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_existing_xero_books_come_through_the_rename_unchanged():
    ids = _xero_books_before(_migrate(BEFORE))
    apps = _migrate(_latest())

    org = apps.get_model("ledger", "Organisation").objects.get()
    assert (org.pk, org.provider, org.tenant_id, org.name) == (
        ids["org"],
        "xero",
        "t-1",
        "Demo Ltd",
    )
    assert (org.base_currency, org.mode) == ("USD", "POSTS")
    connected = apps.get_model("ledger", "BooksConnection").objects.get()
    assert (connected.organisation_id, connected.remote_connection_id) == (ids["org"], "c-1")
    assert connected.refresh_token == "r-1"  # still decrypts
    mapping = apps.get_model("ledger", "BankAccountMapping").objects.get()
    assert (mapping.cash_account_id, mapping.chart_account_id) == (ids["cash"], ids["bank"])
    posting = apps.get_model("ledger", "Posting").objects.get()
    assert (posting.pk, posting.remote_id, posting.state) == (ids["posting"], "bt-1", "POSTED")
    entry = apps.get_model("ledger", "LedgerEntry").objects.get()
    assert (entry.pk, entry.remote_id, entry.remote_type) == (ids["entry"], "bt-1", "SPEND")
    assert (entry.chart_account_id, entry.amount_minor) == (ids["bank"], -100437)
    balance = apps.get_model("ledger", "BankBalance").objects.get()
    assert (balance.pk, balance.chart_account_id, balance.closing_minor) == (
        ids["balance"], ids["bank"], -100437,
    )  # fmt: skip
    assert apps.get_model("ledger", "PullCursor").objects.get().modified_since == AT
    check = apps.get_model("reconciliation", "BalanceCheck").objects.get()
    assert (check.pk, check.chart_account_id, check.books_minor, check.books_read_at) == (
        ids["check"], ids["bank"], -100437, AT,
    )  # fmt: skip
