"""One simulated Xero organisation: chart of accounts, currencies, contacts and the bank
documents (BankTransactions, BankTransfers, Payments), with Xero's validation rules.

Elements are kept as the JSON dicts Xero returns (PascalCase, `/Date()/` dates), so
reads are filters over stored dicts. Amounts are Decimal. Callers hold the simulator lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from simulators.xero.shapes import ms_date, parse_date

CREATABLE_TYPES = ("RECEIVE", "SPEND")
TAX_TYPES = ("NONE", "INPUT", "OUTPUT", "EXEMPTINPUT", "EXEMPTOUTPUT", "BASEXCLUDED")
TAX_RATE_NAMES = {
    "NONE": "No Tax",
    "INPUT": "Tax on Purchases",
    "OUTPUT": "Tax on Sales",
    "EXEMPTINPUT": "Tax Exempt (Purchases)",
    "EXEMPTOUTPUT": "Tax Exempt (Sales)",
    "BASEXCLUDED": "BAS Excluded",
}
# Tracking categories every organisation starts with (name: options).
TRACKING = {"Region": ("North America", "Europe", "Asia Pacific")}
ISO_DESCRIPTIONS = {
    "USD": "United States Dollar",
    "EUR": "Euro",
    "GBP": "British Pound",
    "JPY": "Japanese Yen",
    "CHF": "Swiss Franc",
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "NZD": "New Zealand Dollar",
    "SGD": "Singapore Dollar",
}
# Day rates (units of the currency per one USD) the simulator applies when a foreign
# bank transaction comes without a CurrencyRate, like Xero's XE.com day rate.
USD_RATES = {
    "USD": Decimal(1),
    "EUR": Decimal("0.920000"),
    "GBP": Decimal("0.790000"),
    "JPY": Decimal("150.000000"),
    "CHF": Decimal("0.880000"),
    "AUD": Decimal("1.520000"),
    "CAD": Decimal("1.360000"),
    "NZD": Decimal("1.650000"),
    "SGD": Decimal("1.340000"),
}
CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.000001")


def new_id() -> str:
    return str(uuid.uuid4())


def _stable_id(*parts: str) -> str:
    """The same id for the same names, run after run (seeded data stays deterministic)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


@dataclass
class Org:
    tenant_id: str
    name: str
    base_currency: str = "USD"
    multicurrency: bool = True
    country: str = "US"
    currencies: list[str] = field(default_factory=list)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by AccountID
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ContactID
    bank_transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    bank_transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Files attached to an account, by AccountID: (the Attachment element, its bytes).
    attachments: dict[str, list[tuple[dict[str, Any], bytes]]] = field(default_factory=dict)
    tracking: list[dict[str, Any]] | None = None  # made on first read (tracking_categories)
    lock_date: date | None = None
    last_updated_ms: int = 0
    created_count: int = 0

    # --- clock -----------------------------------------------------------------------

    def stamp(self, now: float) -> str:
        """A strictly increasing UpdatedDateUTC, so ordering by it is stable."""
        ms = max(int(now * 1000), self.last_updated_ms + 1)
        self.last_updated_ms = ms
        return f"/Date({ms}+0000)/"

    # --- settings ----------------------------------------------------------------------

    def organisation(self) -> dict[str, Any]:
        return {
            "OrganisationID": self.tenant_id,
            "Name": self.name,
            "LegalName": self.name,
            "BaseCurrency": self.base_currency,
            "CountryCode": self.country,
            "OrganisationType": "COMPANY",
            # Plans with multi-currency (Xero's 2025 plans: Comprehensive and above).
            "Class": "COMPREHENSIVE" if self.multicurrency else "STANDARD",
            "IsDemoCompany": False,
        }

    def actions(self) -> list[dict[str, str]]:
        allowed = "ALLOWED" if self.multicurrency else "NOT-ALLOWED"
        return [
            {"Name": "UseMulticurrency", "Status": allowed},
            {"Name": "CreateBankTransactions", "Status": "ALLOWED"},
        ]

    def currency_add(self, code: str, description: str | None) -> list[str]:
        code = (code or "").upper()
        if code in self.currencies:
            return []
        if code not in ISO_DESCRIPTIONS:
            return [f"'{code}' is not a valid currency code"]
        if not self.multicurrency and code != self.base_currency:
            return ["Multi-currency is not enabled for this organisation's plan"]
        self.currencies.append(code)
        return []

    def tax_rates(self) -> list[dict[str, Any]]:
        """The organisation's tax rates, in Xero's shape (`GET /TaxRates`)."""
        return [
            {
                "Name": TAX_RATE_NAMES[code], "TaxType": code, "ReportTaxType": code,
                "Status": "ACTIVE", "DisplayTaxRate": Decimal("0.0000"),
                "EffectiveRate": Decimal("0.0000"), "TaxComponents": [],
            }
            for code in TAX_TYPES
        ]  # fmt: skip

    def tracking_categories(self) -> list[dict[str, Any]]:
        """Its tracking categories with their options (`GET /TrackingCategories`); kept on
        the organisation, made from `TRACKING` the first time (older snapshots lack it)."""
        categories = getattr(self, "tracking", None)
        if categories is None:
            categories = self.tracking = [
                {
                    "TrackingCategoryID": _stable_id(self.tenant_id, name),
                    "Name": name, "Status": "ACTIVE",
                    "Options": [
                        {
                            "TrackingOptionID": _stable_id(self.tenant_id, name, option),
                            "Name": option, "Status": "ACTIVE",
                        }
                        for option in options
                    ],
                }
                for name, options in TRACKING.items()
            ]  # fmt: skip
        return categories

    def account_by_code(self, code: str | None) -> dict[str, Any] | None:
        for account in self.accounts.values():
            if account["Code"] == code:
                return account
        return None

    def account_add(
        self, data: dict[str, Any], now: float
    ) -> tuple[dict[str, Any] | None, list[str]]:
        errors = []
        code, name = str(data.get("Code") or "").strip(), str(data.get("Name") or "").strip()
        kind = str(data.get("Type") or "").upper()
        if not name:
            errors.append("Account Name is mandatory")
        if any(a["Name"].lower() == name.lower() for a in self.accounts.values()):
            errors.append("Please enter a unique Name.")
        if kind != "BANK" and not code:
            errors.append("Account Code is mandatory")
        if code and self.account_by_code(code):
            errors.append("Please enter a unique Code.")
        if kind not in (
            "BANK",
            "CURRENT",
            "CURRLIAB",
            "EXPENSE",
            "REVENUE",
            "OVERHEADS",
            "DIRECTCOSTS",
            "LIABILITY",
            "EQUITY",
            "OTHERINCOME",
            "FIXED",
        ):
            errors.append(f"'{kind}' is not a valid account type")
        currency = str(data.get("CurrencyCode") or self.base_currency).upper()
        if kind == "BANK":
            if not data.get("BankAccountNumber"):
                errors.append("Bank Account Number is mandatory for bank accounts")
            if currency not in self.currencies:
                errors.append(f"The currency {currency} has not been added to this organisation")
        if errors:
            return None, errors
        account = {
            "AccountID": new_id(),
            "Code": code,
            "Name": name,
            "Type": kind,
            "Status": "ACTIVE",
            "CurrencyCode": currency,
            "TaxType": "NONE",
            "BankAccountNumber": str(data.get("BankAccountNumber") or ""),
            "BankAccountType": "BANK" if kind == "BANK" else "",
            "Class": "ASSET" if kind in ("BANK", "CURRENT", "FIXED") else "EXPENSE",
            "EnablePaymentsToAccount": False,
            "UpdatedDateUTC": self.stamp(now),
        }
        self.accounts[account["AccountID"]] = account
        return account, []

    def rate_for(self, currency: str) -> Decimal:
        """Units of `currency` per one base unit (Xero's CurrencyRate direction)."""
        base = USD_RATES.get(self.base_currency, Decimal(1))
        return (USD_RATES.get(currency, Decimal(1)) / base).quantize(Decimal("0.000001"))

    def contact_for(self, data: Any, now: float) -> tuple[dict[str, Any] | None, str | None]:
        if not isinstance(data, dict):
            return None, "A Contact must be specified for this type of transaction"
        contact_id = str(data.get("ContactID") or "").lower()
        if contact_id:
            contact = self.contacts.get(contact_id)
            return (contact, None) if contact else (None, "Contact could not be found")
        name = str(data.get("Name") or "").strip()
        if not name:
            return None, "A Contact must be specified for this type of transaction"
        for contact in self.contacts.values():
            if contact["Name"].lower() == name.lower():
                return contact, None
        contact = {
            "ContactID": new_id(),
            "Name": name[:255],
            "ContactStatus": "ACTIVE",
            "UpdatedDateUTC": self.stamp(now),
        }
        self.contacts[contact["ContactID"]] = contact
        return contact, None

    # --- bank transactions -------------------------------------------------------------

    def bank_account(self, ref: Any) -> dict[str, Any] | None:
        if not isinstance(ref, dict):
            return None
        account = None
        if ref.get("AccountID"):
            account = self.accounts.get(str(ref["AccountID"]).lower())
        elif ref.get("Code"):
            account = self.account_by_code(str(ref["Code"]))
        if account and account["Type"] == "BANK" and account["Status"] == "ACTIVE":
            return account
        return None

    def _line_items(self, raw: Any, places: int) -> tuple[list[dict[str, Any]], Decimal, list[str]]:
        errors: list[str] = []
        if not isinstance(raw, list) or not raw:
            return [], Decimal(0), ["At least one line item is required"]
        lines, total = [], Decimal(0)
        for item in raw:
            code = item.get("AccountCode")
            account = self.account_by_code(code)
            if account is None or account["Status"] != "ACTIVE" or account["Type"] == "BANK":
                errors.append(f"Account code '{code}' is not a valid code for this document.")
                continue
            tax = item.get("TaxType") or "NONE"
            if tax not in TAX_TYPES:
                errors.append(f"The TaxType code '{tax}' does not exist or cannot be used.")
            try:
                quantity = Decimal(str(item.get("Quantity", 1)))
                unit = Decimal(str(item.get("UnitAmount", item.get("LineAmount", 0))))
            except InvalidOperation:
                errors.append("Line amounts must be numbers")
                continue
            if unit != unit.quantize(Decimal(1).scaleb(-places)):
                errors.append(f"Unit amount {unit} has more than {places} decimal places")
            amount = (quantity * unit).quantize(CENT, ROUND_HALF_EVEN)
            total += amount
            lines.append(
                {
                    "LineItemID": new_id(),
                    "Description": str(item.get("Description") or "")[:4000],
                    "Quantity": quantity,
                    "UnitAmount": unit,
                    "AccountCode": code,
                    "AccountID": account["AccountID"],
                    "TaxType": tax,
                    "TaxAmount": Decimal("0.00"),
                    "LineAmount": amount,
                    "Tracking": item.get("Tracking") or [],
                }
            )
        return lines, total, errors

    def bank_transaction_build(
        self,
        data: dict[str, Any],
        now: float,
        places: int = 2,
        existing: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        """The stored element for a create or an update, and its validation errors."""
        merged = {**(existing or {}), **data}
        errors: list[str] = []
        kind = merged.get("Type")
        if existing is None and kind not in CREATABLE_TYPES:
            errors.append(f"'{kind}' is not a valid Type for a new bank transaction")
        account = self.bank_account(merged.get("BankAccount"))
        if account is None:
            errors.append("The BankAccount could not be found or is not an active bank account")
        contact, contact_error = self.contact_for(merged.get("Contact"), now)
        if contact_error:
            errors.append(contact_error)
        raw_lines = data.get("LineItems", existing.get("LineItems") if existing else None)
        lines, total, line_errors = self._line_items(raw_lines, places)
        errors.extend(line_errors)
        day = parse_date(merged.get("Date")) if merged.get("Date") else None
        if merged.get("Date") and day is None:
            errors.append(f"'{merged.get('Date')}' is not a valid date")
        day = day or datetime.fromtimestamp(now, tz=UTC).date()
        if self.lock_date and day <= self.lock_date:
            errors.append("The document date cannot be before the period lock date")
        if total < 0:
            errors.append("The total of a bank transaction cannot be negative")
        reference = str(merged.get("Reference") or "")
        if len(reference) > 255:
            errors.append("Reference must be 255 characters or fewer")
        rate = None
        if account is not None:
            currency = account["CurrencyCode"]
            if merged.get("CurrencyCode") and str(merged["CurrencyCode"]).upper() != currency:
                errors.append("The currency of a bank transaction must match its bank account")
            rate = merged.get("CurrencyRate")
            if rate is not None:
                # Xero keeps a rate to six decimals (the description's [18].[6]) and
                # rounds what it is sent.
                rate = Decimal(str(rate)).quantize(RATE_PLACES, ROUND_HALF_EVEN)
                if rate <= 0:
                    errors.append("CurrencyRate must be positive")
                elif currency == self.base_currency and rate != 1:
                    errors.append("A CurrencyRate cannot be set in the base currency")
            elif currency != self.base_currency:
                rate = self.rate_for(currency)
        if errors:
            echo = {k: v for k, v in data.items() if k != "BankTransactionID"}
            return echo, errors
        assert account is not None
        assert contact is not None
        element = {
            "BankTransactionID": (existing or {}).get("BankTransactionID") or new_id(),
            "Type": kind,
            "Status": str(merged.get("Status") or "AUTHORISED"),
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "BankAccount": {
                "AccountID": account["AccountID"],
                "Code": account["Code"],
                "Name": account["Name"],
            },
            "LineItems": lines,
            "Date": ms_date(day),
            "DateString": f"{day}T00:00:00",
            "Reference": reference,
            "CurrencyCode": account["CurrencyCode"],
            "CurrencyRate": rate or Decimal("1.000000"),
            "LineAmountTypes": merged.get("LineAmountTypes") or "Exclusive",
            "SubTotal": total,
            "TotalTax": Decimal("0.00"),
            "Total": total,
            "IsReconciled": bool((existing or {}).get("IsReconciled", False)),
            "HasAttachments": False,
            "UpdatedDateUTC": self.stamp(now),
        }
        return element, []

    def bank_transaction_update_errors(self, existing: dict[str, Any] | None) -> list[str]:
        if existing is None:
            return ["Bank transaction could not be found"]
        if existing["Status"] != "AUTHORISED":
            return [f"A {existing['Status'].lower()} bank transaction cannot be edited"]
        if existing["IsReconciled"]:
            return [
                "This Bank Transaction cannot be edited as it has been reconciled "
                "with a Bank Statement."
            ]
        if existing["Type"] not in CREATABLE_TYPES:
            return ["A transfer's bank transactions are edited through the bank transfer"]
        return []

    # --- bank transfers ------------------------------------------------------------------

    def bank_transfer_build(
        self, data: dict[str, Any], now: float, *, to_amount: Decimal | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        """A transfer and its two bank transactions. Through the API (`to_amount` None)
        both accounts must hold one currency: a transfer takes one Amount and no rate,
        and the documented behaviour refuses cross-currency ones. A person in Xero's UI
        can make one, entering the amount received (`to_amount`): each leg then holds
        its own account's amount, while the transfer shows the From amount and a rate."""
        errors = []
        source = self.bank_account(data.get("FromBankAccount"))
        target = self.bank_account(data.get("ToBankAccount"))
        if source is None or target is None:
            errors.append("Both the From and To bank accounts must be active bank accounts")
        elif source["AccountID"] == target["AccountID"]:
            errors.append("The From and To bank accounts must be different")
        elif source["CurrencyCode"] != target["CurrencyCode"] and to_amount is None:
            errors.append("Cross-currency bank transfers are not supported by the API")
        try:
            amount = Decimal(str(data.get("Amount")))
        except InvalidOperation:
            amount = Decimal(0)
        if amount <= 0:
            errors.append("Amount must be greater than zero")
        day = parse_date(data.get("Date")) or datetime.fromtimestamp(now, tz=UTC).date()
        if self.lock_date and day <= self.lock_date:
            errors.append("The document date cannot be before the period lock date")
        if errors:
            return dict(data), errors
        assert source is not None
        assert target is not None
        stamp = self.stamp(now)
        legs = {}
        received = amount if to_amount is None else to_amount
        for side, account, kind, total in (
            ("From", source, "SPEND-TRANSFER", amount),
            ("To", target, "RECEIVE-TRANSFER", received),
        ):
            leg = {
                "BankTransactionID": new_id(),
                "Type": kind,
                "Status": "AUTHORISED",
                "BankAccount": {
                    "AccountID": account["AccountID"],
                    "Code": account["Code"],
                    "Name": account["Name"],
                },
                "LineItems": [],
                "Date": ms_date(day),
                "DateString": f"{day}T00:00:00",
                "Reference": str(data.get("Reference") or ""),
                "CurrencyCode": account["CurrencyCode"],
                "CurrencyRate": self.rate_for(account["CurrencyCode"]),
                "SubTotal": total,
                "TotalTax": Decimal("0.00"),
                "Total": total,
                "IsReconciled": bool(data.get(f"{side}IsReconciled", False)),
                "UpdatedDateUTC": stamp,
            }
            legs[side] = leg
            self.bank_transactions[leg["BankTransactionID"]] = leg
        transfer = {
            "BankTransferID": new_id(),
            "Status": "AUTHORISED",
            "FromBankAccount": {"AccountID": source["AccountID"], "Name": source["Name"]},
            "ToBankAccount": {"AccountID": target["AccountID"], "Name": target["Name"]},
            "Amount": amount,
            "Date": ms_date(day),
            "DateString": f"{day}T00:00:00",
            "Reference": str(data.get("Reference") or ""),
            # Units received per unit sent (1 within one currency).
            "CurrencyRate": (received / amount).quantize(RATE_PLACES, ROUND_HALF_EVEN),
            "FromBankTransactionID": legs["From"]["BankTransactionID"],
            "ToBankTransactionID": legs["To"]["BankTransactionID"],
            "FromIsReconciled": legs["From"]["IsReconciled"],
            "ToIsReconciled": legs["To"]["IsReconciled"],
            "CreatedDateUTC": stamp,
            "UpdatedDateUTC": stamp,
            "HasAttachments": False,
        }
        return transfer, []

    # --- reports -----------------------------------------------------------------------

    def bank_summary(self, start: date, end: date) -> dict[str, Any]:
        """Xero's Bank Summary: per bank account, opening, received, spent and closing,
        all in the organisation's base currency, as Xero's help says of multi-currency
        accounts on this report (each movement at its own rate, to the cent)."""
        rows = []
        for account in sorted(self.accounts.values(), key=lambda a: a["Code"] or a["Name"]):
            if account["Type"] != "BANK":
                continue
            opening = received = spent = Decimal(0)
            for amount, day in self._movements(account["AccountID"]):
                if day < start:
                    opening += amount
                elif day <= end:
                    received, spent = (
                        (received + amount, spent) if amount > 0 else (received, spent - amount)
                    )
            closing = opening + received - spent
            attribute = [{"Value": account["AccountID"], "Id": "accountID"}]
            rows.append(
                {
                    "RowType": "Row",
                    "Cells": [
                        {"Value": account["Name"], "Attributes": attribute},
                        {"Value": f"{opening:.2f}"},
                        {"Value": f"{received:.2f}"},
                        {"Value": f"{spent:.2f}"},
                        {"Value": f"{closing:.2f}"},
                    ],
                }
            )
        return {
            "ReportName": "Bank Summary",
            "ReportType": "BankSummary",
            "ReportTitles": ["Bank Summary", self.name, f"From {start} to {end}"],
            "ReportDate": f"{end}",
            "Fields": [],
            "Rows": [
                {
                    "RowType": "Header",
                    "Cells": [
                        {"Value": "Bank Accounts"},
                        {"Value": "Opening Balance"},
                        {"Value": "Cash Received"},
                        {"Value": "Cash Spent"},
                        {"Value": "Closing Balance"},
                    ],
                },
                {"RowType": "Section", "Title": "", "Rows": rows},
            ],
        }

    def _movements(self, account_id: str) -> list[tuple[Decimal, date]]:
        """Each movement of a bank account in base currency: its amount over its rate."""

        def base(amount: Decimal, rate: Any) -> Decimal:
            rate = Decimal(str(rate or 1))
            return amount if rate == 1 else (amount / rate).quantize(CENT, ROUND_HALF_UP)

        moves = []
        for element in self.bank_transactions.values():
            if element["Status"] != "AUTHORISED":
                continue
            if element["BankAccount"]["AccountID"] != account_id:
                continue
            sign = 1 if element["Type"].startswith("RECEIVE") else -1
            moves.append(
                (
                    sign * base(element["Total"], element.get("CurrencyRate")),
                    parse_date(element["Date"]) or date.min,
                )
            )
        for payment in self.payments.values():
            if payment["Status"] == "AUTHORISED" and payment["Account"]["AccountID"] == account_id:
                sign = 1 if payment["PaymentType"] in MONEY_IN_PAYMENTS else -1
                moves.append(
                    (
                        sign * base(payment["BankAmount"], payment.get("CurrencyRate")),
                        parse_date(payment["Date"]) or date.min,
                    )
                )
        return moves


MONEY_IN_PAYMENTS = (
    "ACCRECPAYMENT",
    "APCREDITPAYMENT",
    "APOVERPAYMENTPAYMENT",
    "APPREPAYMENTPAYMENT",
)
