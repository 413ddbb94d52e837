"""The companies the QuickBooks simulator starts with: a US company with multicurrency on
(home USD) and a UK one without it (home GBP), each with a small chart of accounts, a
vendor, a customer and a service item. Everything is a function of the seed."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from simulators.quickbooks.books import Company

# Demo app credentials the simulator accepts (tests and the demo configure Bulwark with
# them). Intuit's client ids are 50 characters starting "AB".
DEMO_CLIENT_ID = "ABbulwarkdemo0quickbooks0simulator0client0id000001"
DEMO_CLIENT_SECRET = "bulwark-demo-quickbooks-secret"  # noqa: S105 - a simulator's fake

CREATED = datetime(2024, 1, 2, 17, 0, tzinfo=UTC).timestamp()

CHART = (
    # name, number, type, sub-type
    ("Checking", "1000", "Bank", "Checking"),
    ("Savings", "1010", "Bank", "Savings"),
    ("Accounts Receivable (A/R)", "1100", "Accounts Receivable", "AccountsReceivable"),
    ("Undeposited Funds", "1200", "Other Current Asset", "UndepositedFunds"),
    ("Accounts Payable (A/P)", "2000", "Accounts Payable", "AccountsPayable"),
    ("Opening Balance Equity", "3000", "Equity", "OpeningBalanceEquity"),
    ("Sales", "4000", "Income", "SalesOfProductIncome"),
    ("Services", "4010", "Income", "ServiceFeeIncome"),
    ("Uncategorized Income", "4999", "Income", "ServiceFeeIncome"),
    ("Interest Earned", "4900", "Other Income", "InterestEarned"),
    ("Bank Charges", "6000", "Expense", "BankCharges"),
    ("Advertising", "6010", "Expense", "AdvertisingPromotional"),
    ("Office Expenses", "6100", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("Rent or Lease", "6200", "Expense", "RentOrLeaseOfBuildings"),
    ("Software & Subscriptions", "6300", "Expense", "OtherMiscellaneousServiceCost"),
    ("Travel", "6400", "Expense", "Travel"),
    ("Legal & Professional Fees", "6500", "Expense", "LegalProfessionalFees"),
    ("Uncategorized Expense", "6999", "Expense", "OtherMiscellaneousServiceCost"),
    ("Exchange Gain or Loss", "7000", "Other Expense", "ExchangeGainOrLoss"),
)
# Home units per one unit of each currency: the level the rate feed moves around.
USD_RATES = {
    "EUR": Decimal("1.0842"),
    "GBP": Decimal("1.2710"),
    "JPY": Decimal("0.006712"),
    "CHF": Decimal("1.1190"),
    "CAD": Decimal("0.7385"),
    "AUD": Decimal("0.6604"),
    "SGD": Decimal("0.7432"),
}


def feed_rates_for(home: str) -> dict[str, Decimal]:
    """The feed's level of each currency in `home` units (crossed through USD)."""
    usd = {"USD": Decimal(1), **USD_RATES}
    if home not in usd:
        return {}
    return {code: (rate / usd[home]).quantize(Decimal("1e-8")) for code, rate in usd.items()
            if code != home}  # fmt: skip


COMPANIES = (
    # name, home, multicurrency, country, time zone, currencies, customer (name, currency)
    ("Bulwark Demo Co", "USD", True, "USA", "America/Los_Angeles", ("EUR", "GBP"),
     ("Studio Lumen BV", "EUR")),
    ("Acme Design Ltd", "GBP", False, "GBR", "Europe/London", (), ("Pebble & Pine Ltd", "GBP")),
)  # fmt: skip


def companies_seed(seed: int) -> dict[str, Company]:
    rng = random.Random(seed)
    companies = {}
    for name, home, multicurrency, country, tz, currencies, customer in COMPANIES:
        realm_id = str(rng.randrange(9_130_000_000_000_000, 9_341_999_999_999_999))
        company = Company(
            realm_id=realm_id,
            name=name,
            home=home,
            multicurrency=multicurrency,
            country=country,
            tz=tz,
            created=CREATED,
            feed_rates=feed_rates_for(home) if multicurrency else {},
        )
        for account_name, number, account_type, sub_type in CHART:
            company.create(
                "Account",
                {"Name": account_name, "AcctNum": number, "AccountType": account_type,
                 "AccountSubType": sub_type},
                CREATED,
            )  # fmt: skip
        for code in currencies:
            company.create("CompanyCurrency", {"Code": code}, CREATED)
        company.create("Vendor", {"DisplayName": "Wise"}, CREATED)
        company.create("Vendor", {"DisplayName": "Hostwell Cloud"}, CREATED)
        company.create("Customer", {"DisplayName": "Kestrel Labs"}, CREATED)
        customer_name, customer_currency = customer
        company.create(
            "Customer",
            {"DisplayName": customer_name, "CurrencyRef": {"value": customer_currency}},
            CREATED,
        )
        services = next(a for a in company.table("Account").values() if a["Name"] == "Services")
        item = {"Name": "Consulting", "IncomeAccountRef": {"value": services["Id"]}}
        company.create("Item", item, CREATED)
        companies[realm_id] = company
    return companies
