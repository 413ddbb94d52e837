"""One ConnectWise PSA tenant's data, as records in ConnectWise's own JSON shapes.

Records are plain dicts exactly as the API returns them (amounts as Decimal), so the
server serves them as they are and the contract check sees what a client would. The
methods here keep them consistent the way ConnectWise does: an invoice's totals are the
sum of what is billed on it (time entries, expense entries, products, the agreement
amount) plus its tax; a payment or an applied credit memo lowers its balance; every
change stamps `_info/lastUpdated` and is queued in `changes` for the callbacks.

Assumptions where ConnectWise's documentation is silent (each marked in the reference as
unconfirmed): several payments may be applied to one invoice (partial payments are common
in an MSP's receivables, and the UI's "Apply Payment" allows it); a payment may not exceed
the balance; a credit memo's amounts are negative and it is applied to an invoice as an
InvoicePayment of type `Credit` whose `credit` names the memo; an invoice whose balance
reaches zero moves to the billing status `Paid` (the reference's own example condition is
`status/name="Paid"`) and is closed to edits.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
STATUS_NEW = {"id": 1, "name": "New"}
STATUS_SENT = {"id": 2, "name": "Sent"}
STATUS_PAID = {"id": 3, "name": "Paid"}
CLOSED_STATUSES = {STATUS_PAID["id"]}


def cw_time(moment: datetime | date) -> str:
    """ConnectWise's time.Time: UTC, whole seconds, `Z`."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_cw_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Change:
    """One saved record, for the callbacks: `type` as a callback names it."""

    type: str  # Invoice, Company, Contact, Time, Expense, ProductCatalog
    action: str  # added, updated, deleted
    id: int
    company_id: int | None
    status_id: int | None
    member: str
    entity: dict[str, Any] | None


@dataclass
class Psa:
    login_company: str
    home_currency: str = "USD"
    currencies: dict[int, dict[str, Any]] = field(default_factory=dict)
    billing_terms: dict[int, dict[str, Any]] = field(default_factory=dict)
    tax_codes: dict[int, dict[str, Any]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    payments: dict[int, dict[str, Any]] = field(default_factory=dict)
    time_entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    expense_entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    callbacks: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    invoice_sequence: int = 10000
    changes: deque[Change] = field(default_factory=deque)

    # --- ids, stamps, references ---------------------------------------------------------

    def new_id(self, kind: str, start: int = 1) -> int:
        value = self.next_ids.get(kind, start)
        self.next_ids[kind] = value + 1
        return value

    @staticmethod
    def stamp(record: dict[str, Any], moment: datetime, member: str) -> None:
        info = record.setdefault("_info", {})
        info.setdefault("dateEntered", cw_time(moment))
        info.setdefault("enteredBy", member)
        stamp = cw_time(moment)
        if stamp >= info.get("lastUpdated", ""):  # a record's lastUpdated never goes back
            info["lastUpdated"], info["updatedBy"] = stamp, member

    def currency_ref(self, code: str) -> dict[str, Any]:
        currency = next(c for c in self.currencies.values() if c["currencyCode"]["name"] == code)
        return {
            "id": currency["id"],
            "symbol": currency["symbol"],
            "currencyCode": code,
            "decimalSeparator": currency["decimalSeparator"],
            "numberOfDecimals": currency["numberOfDecimals"],
            "thousandsSeparator": currency["thousandsSeparator"],
            "negativeParenthesesFlag": currency["negativeParenthesesFlag"],
            "displaySymbolFlag": currency["displaySymbolFlag"],
            "currencyIdentifier": currency["currencyIdentifier"],
            "displayIdFlag": currency["displayIdFlag"],
            "rightAlign": currency["rightAlign"],
            "name": currency["name"],
        }

    def company_ref(self, company_id: int) -> dict[str, Any]:
        company = self.companies[company_id]
        return {"id": company_id, "identifier": company["identifier"], "name": company["name"]}

    def billing_contact_name(self, company_id: int) -> str:
        for contact in self.contacts.values():
            if contact["company"]["id"] == company_id and contact.get("defaultBillingFlag"):
                return f"{contact['firstName']} {contact['lastName']}"
        return ""

    @staticmethod
    def invoice_ref(invoice: dict[str, Any]) -> dict[str, Any]:
        return {"id": invoice["id"], "identifier": invoice["invoiceNumber"]}

    def record(self, type_: str, action: str, record: dict[str, Any], member: str) -> None:
        company = record.get("company") or {}
        status = record.get("status") or {}
        self.changes.append(
            Change(
                type_, action, record["id"], company.get("id"), status.get("id"), member,
                None if action == "deleted" else dict(record),
            )
        )  # fmt: skip

    # --- invoices ----------------------------------------------------------------------------

    def lines_of(self, invoice_id: int) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for kind, store in (
            ("time", self.time_entries),
            ("expense", self.expense_entries),
            ("product", self.products),
        ):
            out += [
                (kind, r)
                for r in store.values()
                if (r.get("invoice") or {}).get("id") == invoice_id
            ]
        return out

    def invoice_new(
        self,
        *,
        company_id: int,
        type_: str,
        day: date,
        moment: datetime,
        member: str,
        agreement: dict[str, Any] | None = None,
        agreement_amount: Decimal = Decimal(0),
        project: dict[str, Any] | None = None,
        apply_to: tuple[str, int] | None = None,
    ) -> dict[str, Any]:
        """A new invoice for the company (its currency, terms and tax code), no lines yet."""
        company = self.companies[company_id]
        terms = self.billing_terms[company["billingTerms"]["id"]]
        currency = company["currency"]["currencyCode"]
        invoice_id = self.new_id("invoice", 1001)
        self.invoice_sequence += 1
        due = date.fromordinal(day.toordinal() + terms["dueDays"])
        invoice: dict[str, Any] = {
            "id": invoice_id,
            "invoiceNumber": str(self.invoice_sequence),
            "type": type_,
            "status": dict(STATUS_NEW),
            "company": self.company_ref(company_id),
            "billToCompany": self.company_ref(company_id),
            "applyToType": apply_to[0] if apply_to else "All",
            "applyToId": apply_to[1] if apply_to else None,
            "attention": self.billing_contact_name(company_id),
            "billingSite": {"id": company["site"]["id"], "name": company["site"]["name"]},
            "billingTerms": dict(company["billingTerms"]),
            "reference": "",
            "customerPO": "",
            "date": cw_time(day),
            "dueDate": cw_time(due),
            "locationId": 2,
            "location": {"id": 2, "name": "Head Office"},
            "departmentId": 10,
            "department": {"id": 10, "identifier": "Services", "name": "Managed Services"},
            "taxableFlag": True,
            "taxCode": dict(company["taxCode"]),
            "currency": self.currency_ref(currency),
            "serviceTotal": Decimal("0.00"),
            "expenseTotal": Decimal("0.00"),
            "productTotal": Decimal("0.00"),
            "agreementAmount": money(agreement_amount),
            "downpaymentApplied": Decimal("0.00"),
            "subtotal": Decimal("0.00"),
            "salesTax": Decimal("0.00"),
            "total": Decimal("0.00"),
            "payments": Decimal("0.00"),
            "credits": Decimal("0.00"),
            "balance": Decimal("0.00"),
            "specialInvoiceFlag": False,
            "customFields": [],
        }
        if agreement:
            invoice["agreement"] = dict(agreement)
        if project:
            invoice["project"] = dict(project)
        self.stamp(invoice, moment, member)
        self.invoices[invoice_id] = invoice
        return invoice

    def invoice_recompute(self, invoice: dict[str, Any]) -> None:
        """Totals from the lines and the tax code; balance from payments and credits."""
        code = self.tax_codes[invoice["taxCode"]["id"]]
        rate = code["levelOneRate"] if invoice["taxableFlag"] else Decimal(0)
        totals = {"time": Decimal(0), "expense": Decimal(0), "product": Decimal(0)}
        taxable = Decimal(0)
        for kind, line in self.lines_of(invoice["id"]):
            if line.get("billableOption") != "Billable":
                continue
            amount = {
                "time": line.get("extendedInvoiceAmount"),
                "expense": line.get("invoiceAmount"),
                "product": line.get("extPrice"),
            }[kind] or Decimal(0)
            totals[kind] += amount
            flag = {
                "time": code["levelOneServicesFlag"],
                "expense": code["levelOneExpensesFlag"],
                "product": code["levelOneProductsFlag"] and line.get("taxableFlag", False),
            }[kind]
            taxable += amount if flag else Decimal(0)
        if code["levelOneServicesFlag"]:
            taxable += invoice["agreementAmount"]
        invoice["serviceTotal"] = money(totals["time"])
        invoice["expenseTotal"] = money(totals["expense"])
        invoice["productTotal"] = money(totals["product"])
        invoice["subtotal"] = money(sum(totals.values(), invoice["agreementAmount"]))
        invoice["salesTax"] = money(taxable * rate / 100)
        invoice["total"] = invoice["subtotal"] + invoice["salesTax"]
        self._balance(invoice)

    def _balance(self, invoice: dict[str, Any]) -> None:
        applied = [p for p in self.payments.values() if p["invoice"]["id"] == invoice["id"]]
        invoice["payments"] = sum(
            (p["amount"] for p in applied if p["type"] == "Payment"), Decimal("0.00")
        )
        credits = sum((p["amount"] for p in applied if p["type"] == "Credit"), Decimal("0.00"))
        used = sum(
            (p["amount"] for p in self.payments.values()
             if (p.get("credit") or {}).get("id") == invoice["id"]),
            Decimal("0.00"),
        )  # fmt: skip
        invoice["credits"] = credits - used  # a memo's own credit, used elsewhere, is negative
        invoice["balance"] = invoice["total"] - invoice["payments"] - invoice["credits"]
        if invoice["total"] != 0 and invoice["balance"] == 0:
            invoice["status"] = dict(STATUS_PAID)
        elif invoice["status"]["id"] == STATUS_PAID["id"]:
            invoice["status"] = dict(STATUS_SENT)

    @staticmethod
    def is_closed(invoice: dict[str, Any]) -> bool:
        return invoice["status"]["id"] in CLOSED_STATUSES

    # --- payments ----------------------------------------------------------------------------

    def payment_problem(self, invoice: dict[str, Any], amount: Decimal) -> str | None:
        if amount <= 0:
            return "The payment amount must be greater than zero."
        if invoice["type"] == "CreditMemo":
            return "A payment cannot be applied to a credit memo."
        if amount > invoice["balance"]:
            return f"The payment amount may not exceed the invoice balance of {invoice['balance']}."
        return None

    def payment_apply(
        self,
        invoice: dict[str, Any],
        *,
        amount: Decimal,
        day: date,
        moment: datetime,
        member: str,
        type_: str = "Payment",
        credit: dict[str, Any] | None = None,
        source: str = "",
    ) -> dict[str, Any]:
        payment: dict[str, Any] = {
            "id": self.new_id("payment", 5001),
            "type": type_,
            "invoice": self.invoice_ref(invoice),
            "amount": money(amount),
            "paymentDate": cw_time(day),
            "appliedBy": member,
        }
        if source:
            payment["source"] = source
        if credit is not None:
            payment["credit"] = self.invoice_ref(credit)
        self.payments[payment["id"]] = payment
        self._balance(invoice)
        payment["invoiceBalance"] = invoice["balance"]
        payment["invoiceTotal"] = invoice["total"]
        self.stamp(payment, moment, member)
        self.stamp(invoice, moment, member)
        if credit is not None:
            self._balance(credit)
            self.stamp(credit, moment, member)
        return payment

    def payment_remove(self, payment: dict[str, Any], moment: datetime, member: str) -> None:
        del self.payments[payment["id"]]
        for ref in (payment["invoice"], payment.get("credit")):
            if ref:
                invoice = self.invoices[ref["id"]]
                self._balance(invoice)
                self.stamp(invoice, moment, member)
