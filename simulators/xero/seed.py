"""The organisations the simulator starts with: a US demo company (multi-currency, USD
base) and a UK one without multi-currency, each with a small chart of accounts."""

from __future__ import annotations

import random
import uuid

from simulators.xero.books import Org

# Demo app credentials the simulator accepts (the demo and the tests configure Bulwark
# with them). The custom-connection client is bound to the first organisation.
DEMO_CLIENT_ID = "BULWARKDEMOCLIENT0000000000000001"
DEMO_CLIENT_SECRET = "bulwark-demo-client-secret"  # noqa: S105 - a simulator's fake
CUSTOM_CLIENT_ID = "BULWARKCUSTOMCONNECTION000000001"
CUSTOM_CLIENT_SECRET = "bulwark-demo-custom-secret"  # noqa: S105 - a simulator's fake

CHART = (
    # code, name, type
    ("090", "Business Bank Account", "BANK"),
    ("200", "Sales", "REVENUE"),
    ("260", "Other Revenue", "REVENUE"),
    ("270", "Interest Income", "REVENUE"),
    ("400", "Advertising", "EXPENSE"),
    ("404", "Bank Fees", "EXPENSE"),
    ("408", "Cleaning", "EXPENSE"),
    ("412", "Consulting & Accounting", "EXPENSE"),
    ("420", "Entertainment", "EXPENSE"),
    ("429", "General Expenses", "EXPENSE"),
    ("433", "Insurance", "EXPENSE"),
    ("453", "Office Expenses", "EXPENSE"),
    ("461", "Printing & Stationery", "EXPENSE"),
    ("469", "Rent", "EXPENSE"),
    ("485", "Subscriptions", "EXPENSE"),
    ("489", "Telephone & Internet", "EXPENSE"),
    ("493", "Travel - National", "EXPENSE"),
    ("494", "Travel - International", "EXPENSE"),
    ("610", "Accounts Receivable", "CURRENT"),
    ("800", "Accounts Payable", "CURRLIAB"),
    ("880", "Owner A Drawings", "EQUITY"),
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def orgs_seed(seed: int) -> dict[str, Org]:
    rng = random.Random(seed)
    orgs = {}
    for name, base, multicurrency, country in (
        ("Demo Company (US)", "USD", True, "US"),
        ("Acme Consulting Ltd (UK)", "GBP", False, "GB"),
    ):
        org = Org(
            tenant_id=_uuid(rng),
            name=name,
            base_currency=base,
            multicurrency=multicurrency,
            country=country,
            currencies=[base],
        )
        for code, account_name, kind in CHART:
            account_id = _uuid(rng)
            org.accounts[account_id] = {
                "AccountID": account_id,
                "Code": code,
                "Name": account_name,
                "Type": kind,
                "Status": "ACTIVE",
                "CurrencyCode": base,
                "TaxType": "NONE",
                "BankAccountNumber": "121-000-0001" if kind == "BANK" else "",
                "BankAccountType": "BANK" if kind == "BANK" else "",
                "Class": "ASSET" if kind in ("BANK", "CURRENT") else "EXPENSE",
                "EnablePaymentsToAccount": False,
                "UpdatedDateUTC": "/Date(1735689600000+0000)/",
            }
        orgs[org.tenant_id] = org
    return orgs
