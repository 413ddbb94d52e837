"""A seeded, deterministic MSP's year in ConnectWise PSA: Lighthouse Managed IT, New York.

Ten clients (six in the U.S. billed in USD, two in the U.K. in GBP, two in the EU in
EUR) each hold a managed-services agreement, invoiced on the 1st of every month (type
`Agreement`, the monthly fee as the agreement amount, Microsoft 365 seats as product lines
where the client takes them). Service tickets bring time entries (work roles at their
hourly rates in the client's currency), some billable beyond the agreement, and now and
then a mileage or travel expense; the billable ones go on a `Standard` invoice at the
month's end. Four projects (a Microsoft 365 migration, a network refresh, an office move,
a server virtualisation) are invoiced monthly while they run (type `Progress`), with their
hardware as products. Clients buy hardware now and then (a products-only invoice). Four
service credits are issued as credit memos; three of them are applied to the client's oldest
open invoice (one is left open). Clients pay as their habits go: most in full around the due
date, some late, some in two instalments, some short by a bank fee, a few not yet.

Tax codes: New York City and New Jersey sales tax (products only), tax exempt, UK VAT 20%,
German VAT 19% and EU reverse charge (`EURC`, used only by Studio Lumen BV's invoices, the
code a later mapping step can leave unmapped). Billing terms: Net 30 (the default), Net 15,
Net 45, Net 60, Due on Receipt.

Everything is drawn from one `random.Random(seed)` in date order, so a seed and an `until`
date always give the same tenant. The year is the twelve months before `until`'s month;
nothing is dated after `until`. Amounts are Decimal from integers; nothing goes through a
float.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from simulators.connectwise.psa import STATUS_SENT, Psa, cw_time, money

LOGIN_COMPANY = "lighthouse"
MSP_NAME = "Lighthouse Managed IT"
API_MEMBER = "bulwark-api"  # the API member whose keys Bulwark holds
BOOKKEEPER = "dbrooks"  # who applies payments in the UI

CURRENCIES = [  # id, ISO code, name, symbol
    (1, "USD", "US Dollar", "$"),
    (2, "EUR", "Euro", "€"),
    (3, "GBP", "British Pound", "£"),
]
BILLING_TERMS = [  # id, name, due days, default
    (1, "Net 30", 30, True),
    (2, "Net 15", 15, False),
    (3, "Net 45", 45, False),
    (4, "Net 60", 60, False),
    (5, "Due on Receipt", 0, False),
]
TAX_CODES = [  # id, identifier, description, caption, rate %, services, expenses, products
    (1, "NYC", "New York City sales tax", "NYC Sales Tax", "8.875", False, False, True),
    (2, "NJ", "New Jersey sales tax", "NJ Sales Tax", "6.625", False, False, True),
    (3, "EXEMPT", "Tax exempt", "Exempt", "0", False, False, False),
    (4, "UKVAT20", "UK VAT standard rate", "VAT 20%", "20", True, True, True),
    (5, "DEVAT19", "German VAT standard rate", "MwSt 19%", "19", True, True, True),
    (6, "EURC", "EU reverse charge", "Reverse charge", "0", True, True, True),
]
COUNTRIES = {"US": (1, "United States"), "GB": (2, "United Kingdom"),
             "DE": (3, "Germany"), "NL": (4, "Netherlands")}  # fmt: skip


@dataclass(frozen=True)
class Client:
    identifier: str
    name: str
    currency: str
    tax_code: int
    terms: int
    address: str
    city: str
    state: str
    zip: str
    country: str
    fee: int  # monthly agreement fee, whole units of the currency
    seats: int  # Microsoft 365 seats billed on the agreement invoice (0: none)
    habit: str  # prompt, late, slow, instalments
    contacts: tuple[tuple[str, str, str], ...]  # first, last, title (the first is billing)


CLIENTS = [
    Client("HudsonDental", "Hudson Dental Group", "USD", 1, 1, "350 Fifth Avenue",
           "New York", "NY", "10118", "US", 2400, 18, "prompt",
           (("Maria", "Lopez", "Office Manager"), ("Dr. Alan", "Weiss", "Partner"))),
    Client("Brightline", "Brightline Media Inc", "USD", 1, 1, "55 Water Street",
           "Brooklyn", "NY", "11201", "US", 3800, 42, "late",
           (("Priya", "Raman", "Controller"), ("Tom", "Becker", "COO"))),
    Client("HarborFinch", "Harbor & Finch LLP", "USD", 2, 3, "1 Gateway Center",
           "Newark", "NJ", "07102", "US", 5200, 0, "instalments",
           (("Gloria", "Chen", "Accounts Payable"), ("Ed", "Harbor", "Managing Partner"))),
    Client("Northbeam", "Northbeam Analytics", "USD", 1, 2, "240 West 35th Street",
           "New York", "NY", "10001", "US", 1850, 12, "prompt",
           (("Sam", "Okafor", "Finance Lead"), ("Ivy", "Morgan", "CTO"))),
    Client("CedarRidge", "Cedar Ridge Academy", "USD", 3, 4, "12 Ridge Road",
           "Scarsdale", "NY", "10583", "US", 3100, 0, "slow",
           (("Helen", "Park", "Business Office"), ("Mark", "Daly", "Head of School"))),
    Client("KestrelLabs", "Kestrel Labs", "USD", 1, 1, "88 Greenwich Street",
           "New York", "NY", "10006", "US", 1500, 9, "prompt",
           (("Jonas", "Kim", "Operations"),)),
    Client("PebblePine", "Pebble & Pine Ltd", "GBP", 4, 1, "14 Clerkenwell Road",
           "London", "", "EC1M 5RF", "GB", 1650, 15, "late",
           (("Olivia", "Hughes", "Finance Manager"), ("Rob", "Pine", "Director"))),
    Client("Northwind", "Northwind Traders Ltd", "GBP", 4, 2, "3 Piccadilly Place",
           "Manchester", "", "M1 3BN", "GB", 2200, 0, "prompt",
           (("Amir", "Shah", "Finance Director"),)),
    Client("AtelierVogel", "Atelier Vogel GmbH", "EUR", 5, 1, "Torstrasse 140",
           "Berlin", "", "10119", "DE", 1900, 11, "prompt",
           (("Lena", "Fischer", "Buchhaltung"), ("Jan", "Vogel", "Geschäftsführer"))),
    Client("StudioLumen", "Studio Lumen BV", "EUR", 6, 1, "Keizersgracht 241",
           "Amsterdam", "", "1016 EA", "NL", 1400, 8, "late",
           (("Sanne", "de Vries", "Office Manager"),)),
]  # fmt: skip
MEMBERS = [  # id, identifier, name
    (1, "jsmith", "Jordan Smith"),
    (2, "apatel", "Asha Patel"),
    (3, "mgarcia", "Mateo Garcia"),
    (4, "lchen", "Lin Chen"),
    (5, BOOKKEEPER, "Dana Brooks"),
]
WORK_ROLES = {  # id: (name, hourly rate by currency)
    1: ("Engineer", {"USD": 150, "GBP": 115, "EUR": 135}),
    2: ("Senior Engineer", {"USD": 185, "GBP": 145, "EUR": 170}),
    3: ("Project Manager", {"USD": 165, "GBP": 130, "EUR": 150}),
}
WORK_TYPES = {1: "Remote Support", 2: "Onsite", 3: "Project"}
EXPENSE_TYPES = {1: "Mileage", 2: "Travel", 3: "Parking"}
CATALOG = [  # id, identifier, description, USD price, USD cost, taxable
    (1, "LAPTOP-14", 'Business laptop 14"', 1349, 1120, True),
    (2, "FW-T40", "Firewall appliance", 895, 690, True),
    (3, "SW-24P", "24-port PoE switch", 640, 480, True),
    (4, "DOCK-USB4", "USB4 docking station", 289, 205, True),
    (5, "UPS-1500", "UPS 1500VA", 529, 410, True),
    (6, "M365-BP", "Microsoft 365 Business Premium (monthly)", 22, 18, False),
    (7, "SVC-CREDIT", "Service credit", 0, 0, False),
]
PRICE_FACTOR = {"USD": Decimal(1), "GBP": Decimal("0.80"), "EUR": Decimal("0.92")}
TICKETS = [
    "Outlook keeps asking for password",
    "New starter laptop setup",
    "VPN drops every hour",
    "Printer offline on 3rd floor",
    "Shared drive permissions",
    "Phishing email reported",
    "Teams calls choppy",
    "Backup job failed overnight",
    "Replace failed disk in NAS",
    "Wi-Fi dead zone in meeting room",
    "MFA reset for user",
    "Server patching window",
    "Firewall rule for new vendor",
    "Leaver: disable account and archive mailbox",
]
PROJECTS = [  # name, client index, first month offset, months, roles, products per month
    ("Microsoft 365 migration", 1, 1, 3, (2, 3), ()),
    ("Network refresh", 2, 4, 4, (2, 1), ((3, 2), (2, 1))),
    ("Office move", 6, 8, 2, (1, 3), ((4, 6), (5, 1))),
    ("Server virtualisation", 8, 5, 2, (2,), ((5, 1),)),
]


def year_months(until: date) -> list[date]:
    """The first days of the twelve months before `until`'s month, then its own."""
    first = until.replace(day=1)
    months = []
    for back in range(12, -1, -1):
        year, month = first.year, first.month - back
        while month <= 0:
            month, year = month + 12, year - 1
        months.append(date(year, month, 1))
    return months


def month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


class _Year:
    """Builds the tenant month by month; every draw comes from one seeded RNG."""

    def __init__(self, seed: int, until: date) -> None:
        self.rng = random.Random(seed)
        self.until = until
        self.psa = Psa(login_company=LOGIN_COMPANY)
        self.clients: dict[int, Client] = {}
        self.agreements: dict[int, dict[str, Any]] = {}
        self.ticket_id = 20000
        self.paid_later: list[tuple[date, dict[str, Any], Decimal]] = []
        self.memos: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    # --- setup tables --------------------------------------------------------------------

    def setup(self) -> None:
        psa = self.psa
        for currency_id, code, name, symbol in CURRENCIES:
            psa.currencies[currency_id] = {
                "id": currency_id, "currencyIdentifier": code, "name": name, "symbol": symbol,
                "displayIdFlag": False, "displaySymbolFlag": True,
                "currencyCode": {"id": currency_id, "name": code},
                "thousandsSeparator": ",", "decimalSeparator": ".",
                "negativeParenthesesFlag": False, "rightAlign": False, "numberOfDecimals": 2,
                "_info": {"lastUpdated": "2020-01-06T15:00:00Z", "updatedBy": "admin1"},
            }  # fmt: skip
        for term_id, name, days, default in BILLING_TERMS:
            psa.billing_terms[term_id] = {
                "id": term_id, "name": name, "defaultFlag": default, "dueDays": days,
                "termsXref": name.upper().replace(" ", ""),
                "_info": {"lastUpdated": "2020-01-06T15:00:00Z", "updatedBy": "admin1"},
            }  # fmt: skip
        for code_id, ident, description, caption, rate, services, expenses, products in TAX_CODES:
            psa.tax_codes[code_id] = {
                "id": code_id, "identifier": ident, "description": description,
                "invoiceCaption": caption, "effectiveDate": "2020-01-01T00:00:00Z",
                "defaultFlag": code_id == 1, "displayOnInvoiceFlag": True,
                "levelOneRate": Decimal(rate), "levelOneRateType": "Percent",
                "levelOneCaption": caption, "levelOneTaxCodeXref": ident,
                "levelOneServicesFlag": services, "levelOneExpensesFlag": expenses,
                "levelOneProductsFlag": products,
                "_info": {"lastUpdated": "2020-01-06T15:00:00Z", "updatedBy": "admin1"},
            }  # fmt: skip
        self._company(1, "Lighthouse", MSP_NAME, "USD", 1, 1, "1250 Broadway", "New York",
                      "NY", "10001", "US", "Owner", 1)  # fmt: skip
        self._company(50, "IngramMicro", "Ingram Micro", "USD", 3, 1, "3351 Michelson Drive",
                      "Irvine", "CA", "92612", "US", "Vendor", 2, vendor=True)  # fmt: skip
        for index, client in enumerate(CLIENTS):
            company_id = 101 + index
            self.clients[company_id] = client
            self._company(company_id, client.identifier, client.name, client.currency,
                          client.tax_code, client.terms, client.address, client.city,
                          client.state, client.zip, client.country, "Client", 3)  # fmt: skip
            for position, (first, last, title) in enumerate(client.contacts):
                self._contact(company_id, first, last, title, billing=position == 0)
            self.agreements[company_id] = {
                "id": 300 + index,
                "name": f"{client.name} - Managed Services",
                "type": "Managed Services",
                "chargeFirmFlag": False,
            }

    def _company(self, company_id: int, identifier: str, name: str, currency: str,
                 tax_code: int, terms: int, address: str, city: str, state: str, zip_: str,
                 country: str, kind: str, kind_id: int, vendor: bool = False) -> None:  # fmt: skip
        psa = self.psa
        country_id, country_name = COUNTRIES[country]
        entered = at(self.until - timedelta(days=700 - company_id), 14)
        record = {
            "id": company_id, "identifier": identifier, "name": name,
            "status": {"id": 1, "name": "Active"},
            "addressLine1": address, "city": city, "state": state, "zip": zip_,
            "country": {"id": country_id, "name": country_name},
            "phoneNumber": f"{2120000000 + company_id * 7919 % 9999999}",
            "website": f"www.{identifier.lower()}.example",
            "territory": {"id": 1, "name": "Main"},
            "accountNumber": f"C{company_id:05d}",
            "taxIdentifier": "" if country == "US" else f"{country}{company_id * 104729}",
            "taxCode": {"id": tax_code, "name": psa.tax_codes[tax_code]["description"]},
            "billingTerms": {"id": terms, "name": psa.billing_terms[terms]["name"]},
            "currency": psa.currency_ref(currency),
            "site": {"id": company_id * 10, "name": "Main"},
            "billingSite": {"id": company_id * 10, "name": "Main"},
            "types": [{"id": kind_id, "name": kind}],
            "isVendorFlag": vendor, "deletedFlag": False, "leadFlag": False,
            "customFields": [],
        }  # fmt: skip
        psa.stamp(record, entered, "admin1")
        psa.companies[company_id] = record

    def _contact(self, company_id: int, first: str, last: str, title: str, billing: bool) -> None:
        psa = self.psa
        company = psa.companies[company_id]
        contact_id = psa.new_id("contact", 801)
        domain = company["website"].removeprefix("www.")
        email = f"{first.split()[-1].lower()}.{last.lower().replace(' ', '')}@{domain}"
        record = {
            "id": contact_id, "firstName": first, "lastName": last,
            "company": psa.company_ref(company_id),
            "site": {"id": company["site"]["id"], "name": "Main"},
            "title": title, "inactiveFlag": False,
            "defaultFlag": billing, "defaultBillingFlag": billing,
            "defaultPhoneType": "Direct", "defaultPhoneNbr": company["phoneNumber"],
            "communicationItems": [
                {"id": contact_id * 10, "type": {"id": 1, "name": "Email"}, "value": email,
                 "defaultFlag": True, "communicationType": "Email"},
            ],
            "types": [{"id": 2 if billing else 1, "name": "Billing" if billing else "Primary"}],
            "customFields": [],
        }  # fmt: skip
        psa.stamp(record, at(self.until - timedelta(days=600), 15), "admin1")
        psa.contacts[contact_id] = record
        if billing:
            company["billingContact"] = {"id": contact_id, "name": f"{first} {last}"}
            company["defaultContact"] = {"id": contact_id, "name": f"{first} {last}"}

    # --- a month's billing ----------------------------------------------------------------

    def month(self, first: date, index: int) -> None:
        self.pay_due(first)
        for company_id, client in self.clients.items():
            if first <= self.until:
                self.agreement_invoice(company_id, client, first)
        for project_index, project in enumerate(PROJECTS):
            _, client_index, start, months, roles, products = project
            if start <= index < start + months:
                self.project_invoice(project_index, 101 + client_index, month_end(first), roles,
                                     products)  # fmt: skip
        for company_id, client in self.clients.items():
            if self.rng.random() < 0.12:
                day = first + timedelta(days=self.rng.randint(8, 20))
                self.hardware_invoice(company_id, client, day)
            self.service_invoice(company_id, client, first)
        if index in (2, 5, 8, 10):
            self.credit_memo(first)

    def agreement_invoice(self, company_id: int, client: Client, first: date) -> None:
        agreement = self.agreements[company_id]
        invoice = self.psa.invoice_new(
            company_id=company_id, type_="Agreement", day=first, moment=at(first, 7, 30),
            member="admin1", agreement=agreement, agreement_amount=Decimal(client.fee),
            apply_to=("Agreement", agreement["id"]),
        )  # fmt: skip
        if client.seats:
            seats = client.seats + self.rng.randint(-1, 2)
            self.product(invoice, 6, seats, company_id, agreement=agreement)
        self.issue(invoice, client)

    def service_invoice(self, company_id: int, client: Client, first: date) -> None:
        """The month's tickets; the billable time and expenses on a Standard invoice."""
        last = month_end(first)
        if last > self.until:
            return
        billable: list[dict[str, Any]] = []
        for _ in range(self.rng.randint(1, 5)):
            self.ticket_id += 1
            ticket = {"id": self.ticket_id, "summary": self.rng.choice(TICKETS)}
            day = first + timedelta(days=self.rng.randint(0, last.day - 1))
            for _ in range(self.rng.randint(1, 3)):
                entry = self.time_entry(company_id, client, day, ticket, "ServiceTicket",
                                        role=self.rng.choice((1, 1, 2)))  # fmt: skip
                if self.rng.random() < 0.4:
                    billable.append(entry)
                else:
                    entry["billableOption"] = "NoCharge"
                    entry["agreement"] = dict(self.agreements[company_id])
        expenses = []
        if billable and self.rng.random() < 0.25:
            day = first + timedelta(days=self.rng.randint(1, last.day - 1))
            expenses.append(self.expense(company_id, client, day, billable[0]["ticket"]))
        if not billable and not expenses:
            return
        invoice = self.psa.invoice_new(
            company_id=company_id,
            type_="Standard",
            day=last,
            moment=at(last, 18, 10),
            member="admin1",
        )
        for entry in billable + expenses:
            entry["invoice"] = self.psa.invoice_ref(invoice)
            entry["status"] = "Billed"
        self.issue(invoice, client)

    def project_invoice(self, project_index: int, company_id: int, last: date,
                        roles: tuple[int, ...], products: tuple[tuple[int, int], ...]
                        ) -> None:  # fmt: skip
        if last > self.until:
            return
        client = self.clients[company_id]
        name = PROJECTS[project_index][0]
        project = {"id": 400 + project_index, "name": name}
        invoice = self.psa.invoice_new(
            company_id=company_id, type_="Progress", day=last, moment=at(last, 18, 40),
            member="admin1", project=project, apply_to=("Project", project["id"]),
        )  # fmt: skip
        self.ticket_id += 1
        ticket = {"id": self.ticket_id, "summary": f"{name}: phase work"}
        for _ in range(self.rng.randint(3, 6)):
            day = last - timedelta(days=self.rng.randint(0, 25))
            entry = self.time_entry(company_id, client, day, ticket, "ProjectTicket",
                                    role=self.rng.choice(roles), project=project)  # fmt: skip
            entry["invoice"] = self.psa.invoice_ref(invoice)
            entry["status"] = "Billed"
        if name == "Office move":
            expense = self.expense(company_id, client, last - timedelta(days=3), ticket, 2)
            expense["invoice"] = self.psa.invoice_ref(invoice)
        for catalog_id, quantity in products:
            self.product(invoice, catalog_id, quantity, company_id, project=project)
        self.issue(invoice, client)

    def hardware_invoice(self, company_id: int, client: Client, day: date) -> None:
        if day > self.until:
            return
        invoice = self.psa.invoice_new(
            company_id=company_id,
            type_="Standard",
            day=day,
            moment=at(day, 11, 5),
            member="admin1",
        )
        for catalog_id in self.rng.sample([1, 2, 3, 4, 5], self.rng.randint(1, 2)):
            self.product(invoice, catalog_id, self.rng.randint(1, 4), company_id)
        self.issue(invoice, client)

    def credit_memo(self, first: date) -> None:
        """A service credit against last month's agreement invoice of one client."""
        candidates = [
            i for i in self.psa.invoices.values()
            if i["type"] == "Agreement" and i["date"] < cw_time(first)
            and i["date"] >= cw_time(first - timedelta(days=40))
        ]  # fmt: skip
        if not candidates:
            return
        target = self.rng.choice(candidates)
        day = first + timedelta(days=self.rng.randint(2, 9))
        if day > self.until:
            return
        company_id = target["company"]["id"]
        memo = self.psa.invoice_new(
            company_id=company_id, type_="CreditMemo", day=day, moment=at(day, 10, 20),
            member="admin1", apply_to=("Agreement", self.agreements[company_id]["id"]),
        )  # fmt: skip
        memo["reference"] = f"Credit for invoice {target['invoiceNumber']}"
        share = Decimal(self.rng.randint(10, 25)) / 100
        amount = money(target["agreementAmount"] * share)
        code = self.psa.tax_codes[memo["taxCode"]["id"]]
        self.product(memo, 7, 1, company_id, price=-amount, description="Service credit: SLA",
                     taxable=code["levelOneServicesFlag"])  # it credits a service  # fmt: skip
        self.psa.invoice_recompute(memo)
        memo["status"] = dict(STATUS_SENT)
        self.pay_due(day)  # what the client paid before the credit was issued
        # Applied to the client's oldest invoice still open for the whole credit (the
        # credited one is usually paid by then); the second memo stays open, unapplied.
        open_invoices = [
            i for i in self.psa.invoices.values()
            if i["company"]["id"] == company_id and i["type"] != "CreditMemo"
            and i["balance"] >= -memo["total"]
        ]  # fmt: skip
        apply_to = min(open_invoices, key=lambda i: i["id"]) if open_invoices else None
        if len(self.memos) == 1:
            apply_to = None
        self.memos.append((memo, apply_to))
        if apply_to is not None:
            self.psa.payment_apply(
                apply_to, amount=-memo["total"], day=day, moment=at(day, 10, 45),
                member=BOOKKEEPER, type_="Credit", credit=memo,
            )  # fmt: skip

    # --- lines ----------------------------------------------------------------------------

    def time_entry(self, company_id: int, client: Client, day: date, ticket: dict[str, Any],
                   charge_type: str, role: int, project: dict[str, Any] | None = None
                   ) -> dict[str, Any]:  # fmt: skip
        psa = self.psa
        member_id, identifier, name = self.rng.choice(MEMBERS[:4])
        quarter_hours = self.rng.randint(2, 16)
        hours = Decimal(quarter_hours) / 4
        start = at(day, self.rng.randint(8, 15), self.rng.choice((0, 15, 30, 45)))
        role_name, rates = WORK_ROLES[role]
        rate = Decimal(rates[client.currency])
        entry_id = psa.new_id("time", 70001)
        entry: dict[str, Any] = {
            "id": entry_id, "company": psa.company_ref(company_id), "companyType": "Client",
            "chargeToId": ticket["id"], "chargeToType": charge_type,
            "member": {"id": member_id, "identifier": identifier, "name": name},
            "locationId": 2, "businessUnitId": 10,
            "workType": {"id": 3 if project else self.rng.choice((1, 1, 2)),
                         "name": WORK_TYPES[3 if project else 1]},
            "workRole": {"id": role, "name": role_name},
            "timeStart": cw_time(start),
            "timeEnd": cw_time(start + timedelta(minutes=15 * quarter_hours)),
            "hoursDeduct": Decimal("0.00"), "actualHours": hours,
            "billableOption": "Billable", "notes": ticket["summary"],
            "hoursBilled": hours, "invoiceHours": hours,
            "hourlyRate": rate, "extendedInvoiceAmount": money(hours * rate),
            "status": "ApprovedByTierTwo", "ticket": dict(ticket),
            "taxCode": dict(psa.companies[company_id]["taxCode"]),
            "dateEntered": cw_time(start + timedelta(hours=2)),
            "customFields": [],
        }  # fmt: skip
        if project:
            entry["project"] = dict(project)
        psa.stamp(entry, start + timedelta(hours=2), identifier)
        psa.time_entries[entry_id] = entry
        return entry

    def expense(self, company_id: int, client: Client, day: date, ticket: dict[str, Any],
                type_id: int = 1) -> dict[str, Any]:  # fmt: skip
        psa = self.psa
        member_id, identifier, name = self.rng.choice(MEMBERS[:4])
        amount = Decimal(self.rng.randint(1800, 24000)) / 100 * PRICE_FACTOR[client.currency]
        amount = money(amount)
        entry_id = psa.new_id("expense", 90001)
        entry: dict[str, Any] = {
            "id": entry_id, "company": psa.company_ref(company_id),
            "chargeToId": ticket["id"], "chargeToType": "ServiceTicket",
            "type": {"id": type_id, "name": EXPENSE_TYPES[type_id]},
            "member": {"id": member_id, "identifier": identifier, "name": name},
            "amount": amount, "billableOption": "Billable", "date": cw_time(day),
            "notes": f"{EXPENSE_TYPES[type_id]} for {ticket['summary']}",
            "currency": psa.currency_ref(client.currency), "status": "Billed",
            "billAmount": amount, "invoiceAmount": amount,
            "ticket": {"id": ticket["id"], "summary": ticket["summary"]},
            "customFields": [],
        }  # fmt: skip
        psa.stamp(entry, at(day, 19), identifier)
        psa.expense_entries[entry_id] = entry
        return entry

    def product(self, invoice: dict[str, Any], catalog_id: int, quantity: int, company_id: int,
                *, price: Decimal | None = None, description: str = "",
                taxable: bool | None = None,
                agreement: dict[str, Any] | None = None,
                project: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        psa = self.psa
        _, identifier, item_description, usd_price, usd_cost, catalog_taxable = CATALOG[
            catalog_id - 1
        ]
        currency = invoice["currency"]["currencyCode"]
        unit = price if price is not None else money(Decimal(usd_price) * PRICE_FACTOR[currency])
        cost = money(Decimal(usd_cost) * PRICE_FACTOR[currency])
        product_id = psa.new_id("product", 60001)
        record: dict[str, Any] = {
            "id": product_id,
            "catalogItem": {"id": catalog_id, "identifier": identifier},
            "description": description or item_description,
            "sequenceNumber": Decimal(len(psa.lines_of(invoice["id"])) + 1),
            "quantity": Decimal(quantity), "price": unit, "cost": cost,
            "extPrice": money(unit * quantity), "extCost": money(cost * quantity),
            "discount": Decimal("0.00"), "billableOption": "Billable",
            "locationId": 2, "businessUnitId": 10,
            "taxableFlag": taxable if taxable is not None else catalog_taxable,
            "customerDescription": description or item_description,
            "invoice": psa.invoice_ref(invoice), "company": psa.company_ref(company_id),
            "taxCode": dict(invoice["taxCode"]), "productClass": "NonInventory",
            "customFields": [],
        }  # fmt: skip
        if agreement:
            record["agreement"] = dict(agreement)
        if project:
            record["project"] = dict(project)
        psa.stamp(record, parse_stamp(invoice), "admin1")
        psa.products[product_id] = record
        return record

    # --- issuing and payments -------------------------------------------------------------

    def issue(self, invoice: dict[str, Any], client: Client) -> None:
        self.psa.invoice_recompute(invoice)
        day = date.fromisoformat(invoice["date"][:10])
        if day <= self.until - timedelta(days=2):
            invoice["status"] = dict(STATUS_SENT)
        due = date.fromisoformat(invoice["dueDate"][:10])
        self.plan_payments(invoice, client, due)

    def plan_payments(self, invoice: dict[str, Any], client: Client, due: date) -> None:
        roll, total = self.rng.random(), invoice["total"]
        lateness = {
            "prompt": self.rng.randint(-8, 4),
            "late": self.rng.randint(5, 35),
            "slow": self.rng.randint(20, 75),
            "instalments": self.rng.randint(0, 12),
        }[client.habit]
        pay_day = max(due + timedelta(days=lateness), date.fromisoformat(invoice["date"][:10]))
        if roll < 0.06:
            return  # not paid (yet)
        if roll < 0.12 or (client.habit == "instalments" and roll < 0.5):
            first = money(total * Decimal(self.rng.randint(40, 70)) / 100)
            self.paid_later.append((pay_day, invoice, first))
            self.paid_later.append((pay_day + timedelta(days=self.rng.randint(20, 50)), invoice,
                                    total - first))  # fmt: skip
            return
        if roll < 0.17 and client.currency != "USD":
            fee = Decimal(self.rng.choice((15, 20, 25, 35)))  # a correspondent bank's fee
            self.paid_later.append((pay_day, invoice, total - fee))
            return
        self.paid_later.append((pay_day, invoice, total))

    def pay_due(self, before: date) -> None:
        """Apply the planned payments dated before `before` (and not after `until`)."""
        due = sorted(
            (p for p in self.paid_later if p[0] < before and p[0] <= self.until),
            key=lambda p: (p[0], p[1]["id"]),
        )
        for day, invoice, amount in due:
            self.paid_later.remove((day, invoice, amount))
            amount = min(amount, invoice["balance"])
            if amount <= 0:
                continue
            moment = at(day, self.rng.randint(9, 16), self.rng.randint(0, 59))
            self.psa.payment_apply(invoice, amount=amount, day=day, moment=moment,
                                   member=BOOKKEEPER)  # fmt: skip

    def build(self) -> Psa:
        self.setup()
        for index, first in enumerate(year_months(self.until)):
            self.month(first, index)
        self.pay_due(self.until + timedelta(days=1))
        self.psa.changes.clear()  # history, not news: callbacks announce what happens next
        return self.psa


def parse_stamp(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["_info"]["lastUpdated"].replace("Z", "+00:00"))


def msp_year(seed: int, until: date) -> Psa:
    """The tenant: the twelve months before `until`'s month and that month up to `until`."""
    return _Year(seed, until).build()
