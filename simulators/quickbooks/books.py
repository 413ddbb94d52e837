"""A QuickBooks Online company as the simulator keeps it, with the business rules the
service applies on top of its schema.

Entities are stored in their JSON response shape (minus what is computed on every read:
balances). Every transaction's effect on the accounts (debit-positive, in each account's
own currency) is kept beside it, so `CurrentBalance` is a running sum and a deleted or
updated transaction takes its old effect back.

Rules modelled, each refused as the service refuses it (see `shapes.MESSAGES`):
- `SyncToken` on every update, delete and void: a stale one is a 5010 Stale Object Error.
- Names: accounts unique among accounts; customers and vendors unique among all names
  (6240). An account's currency is fixed once created.
- Multicurrency: off, every amount is in the home currency and an account, customer or
  vendor in another currency is refused (6000); on, income and expense accounts stay in
  the home currency, a transaction holds at most one foreign currency, `ExchangeRate`
  is home units per one foreign unit (the company's rate for the day unless the
  transaction sets its own) and `HomeTotalAmt` is the total at that rate.
- Purchases pay from a bank (Cash, Check) or credit-card account; deposits go to a bank
  or other current asset; journal entries balance; amounts fit the currency's minor
  units (the service rounds silently; the simulator refuses, so a client sending
  inexact amounts fails in tests instead of being rounded unseen).
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from simulators.quickbooks.shapes import (
    CURRENCY_NAMES,
    Clock,
    Refusal,
    business,
    fits_currency,
    not_found,
    quantize,
    stamp_to_epoch,
)

# URL / query spelling (lower case) -> entity name.
ENTITIES = {
    name.lower(): name
    for name in (
        "Account", "Vendor", "Customer", "Item", "Purchase", "Deposit", "Transfer",
        "JournalEntry", "Invoice", "Payment", "CompanyCurrency", "ExchangeRate", "Attachable",
        "CompanyInfo", "Preferences",
    )
}  # fmt: skip
OPERATIONS = {
    "Account": {"create", "update"},
    "Vendor": {"create", "update"},
    "Customer": {"create", "update"},
    "Item": {"create", "update"},
    "CompanyCurrency": {"create", "update"},
    "Purchase": {"create", "update", "delete", "void"},
    "Deposit": {"create", "update", "delete"},
    "Transfer": {"create", "update", "delete", "void"},
    "JournalEntry": {"create", "update", "delete"},
    "Invoice": {"create", "update", "delete", "void"},
    "Payment": {"create", "update", "delete", "void"},
    "Attachable": {"create", "update", "delete"},
}
# Change data capture covers these (Intuit's list, as far as the simulator has them).
CDC_ENTITIES = {"Account", "Customer", "Deposit", "Invoice", "Item", "JournalEntry",
                "Payment", "Purchase", "Transfer", "Vendor"}  # fmt: skip
TRANSACTIONS = ("Purchase", "Deposit", "Transfer", "JournalEntry", "Invoice", "Payment")

READ_ONLY = {"Id", "SyncToken", "MetaData", "domain", "sparse", "status"}
CLASSIFICATION = {
    "Bank": "Asset", "Accounts Receivable": "Asset", "Other Current Asset": "Asset",
    "Fixed Asset": "Asset", "Other Asset": "Asset", "Accounts Payable": "Liability",
    "Credit Card": "Liability", "Other Current Liability": "Liability",
    "Long Term Liability": "Liability", "Equity": "Equity", "Income": "Revenue",
    "Other Income": "Revenue", "Cost of Goods Sold": "Expense", "Expense": "Expense",
    "Other Expense": "Expense",
}  # fmt: skip
DEFAULT_SUBTYPE = {
    "Bank": "Checking", "Accounts Receivable": "AccountsReceivable",
    "Other Current Asset": "OtherCurrentAssets", "Fixed Asset": "OtherFixedAssets",
    "Other Asset": "OtherLongTermAssets", "Accounts Payable": "AccountsPayable",
    "Credit Card": "CreditCard", "Other Current Liability": "OtherCurrentLiabilities",
    "Long Term Liability": "OtherLongTermLiabilities", "Equity": "OwnersEquity",
    "Income": "ServiceFeeIncome", "Other Income": "OtherMiscellaneousIncome",
    "Cost of Goods Sold": "SuppliesMaterialsCogs",
    "Expense": "OtherMiscellaneousServiceCost", "Other Expense": "OtherMiscellaneousExpense",
}  # fmt: skip
SUBTYPE_TYPE = {
    "Checking": "Bank", "Savings": "Bank", "MoneyMarket": "Bank", "CashOnHand": "Bank",
    "BankCharges": "Expense", "Travel": "Expense", "OfficeGeneralAdministrativeExpenses":
    "Expense", "ServiceFeeIncome": "Income", "OtherCurrentAssets": "Other Current Asset",
    "UndepositedFunds": "Other Current Asset", "CreditCard": "Credit Card",
}  # fmt: skip
BALANCE_SHEET = {"Asset", "Liability", "Equity"}
PAYING_TYPES = {"Cash": {"Bank", "Other Current Asset"}, "Check": {"Bank"},
                "CreditCard": {"Credit Card"}}  # fmt: skip
ATTACHMENT_TYPES = {
    "ai", "csv", "doc", "docx", "eps", "gif", "jpeg", "jpg", "ods", "pdf", "png", "rtf",
    "tif", "txt", "xls", "xlsx", "xml",
}  # fmt: skip
DOC_NUMBER_MAX = 21
DUPLICATE_NAME = (
    "The name supplied already exists. : Another customer, vendor or employee is already "
    "using this \nname. Please use a different name."
)


@dataclass
class Company:
    realm_id: str
    name: str
    home: str
    multicurrency: bool
    country: str  # ISO 3166 alpha-3, as the service returns it since October 2025
    tz: str
    created: float
    feed_rates: dict[str, Decimal]  # home units per one unit, the rate feed's base level
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    effects: dict[tuple[str, str], list[tuple[str, Decimal]]] = field(default_factory=dict)
    applied: dict[tuple[str, str], dict[str, Decimal]] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)
    custom_rates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    doc_counter: int = 1000
    writing_at: float = 0.0  # the simulator's clock during the current write

    @property
    def clock(self) -> Clock:
        return Clock(self.tz)

    # --- reading ---------------------------------------------------------------------

    def table(self, entity: str) -> dict[str, dict[str, Any]]:
        return self.rows.setdefault(entity, {})

    def get(self, entity: str, entity_id: str) -> dict[str, Any]:
        row = self.table(entity).get(str(entity_id))
        if row is None:
            raise not_found()
        return self.present(entity, row)

    def all(self, entity: str) -> list[dict[str, Any]]:
        return [self.present(entity, row) for row in self.table(entity).values()]

    def present(self, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        """A stored row as the service answers it, with what is computed on read."""
        shown = copy.deepcopy(row)
        if entity == "Account":
            balance = self.balances.get(row["Id"], Decimal(0))
            if row["Classification"] not in BALANCE_SHEET:
                balance = Decimal(0)
            elif row["Classification"] != "Asset":
                balance = -balance
            balance = quantize(balance, row["CurrencyRef"]["value"])
            shown["CurrentBalance"] = shown["CurrentBalanceWithSubAccounts"] = balance
        elif entity == "Invoice":
            shown["Balance"] = self._invoice_balance(row)
        elif entity == "Customer":
            shown["Balance"] = sum(
                (
                    self._invoice_balance(inv)
                    for inv in self.table("Invoice").values()
                    if inv["CustomerRef"]["value"] == row["Id"]
                ),
                Decimal(0),
            )
        return shown

    def changed_since(self, entity: str, since: float) -> list[dict[str, Any]]:
        """Live rows updated at or after `since`, then deleted ones (as the service lists
        them: `status: Deleted`, with only Id and MetaData)."""
        live = [
            self.present(entity, row)
            for row in self.table(entity).values()
            if _epoch(row["MetaData"]["LastUpdatedTime"]) >= since
        ]
        live.sort(key=lambda r: (r["MetaData"]["LastUpdatedTime"], int(r["Id"])))
        gone = [
            copy.deepcopy(row)
            for row in self.tombstones.get(entity, {}).values()
            if _epoch(row["MetaData"]["LastUpdatedTime"]) >= since
        ]
        gone.sort(key=lambda r: (r["MetaData"]["LastUpdatedTime"], int(r["Id"])))
        return live + gone

    def account(self, ref: Any, element: str) -> dict[str, Any]:
        value = ref.get("value") if isinstance(ref, dict) else None
        row = self.table("Account").get(str(value)) if value else None
        if row is None:
            raise Refusal(
                "2500", f"Invalid Reference Id : Accounts element id {value} not found", element
            )
        if not row.get("Active", True):
            raise not_found(element)
        return row

    # --- writing ---------------------------------------------------------------------

    def create(self, entity: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        self.writing_at = now
        entity_id = str(self.next_ids.get(entity, 1))
        stored = self._normalize(entity, body, None, entity_id)
        self.next_ids[entity] = int(entity_id) + 1
        stamp = self.clock.stamp(now)
        stored.update(
            Id=entity_id,
            SyncToken="0",
            MetaData={"CreateTime": stamp, "LastUpdatedTime": stamp},
            domain="QBO",
            sparse=False,
        )
        self.table(entity)[entity_id] = stored
        return self.present(entity, stored)

    def update(self, entity: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        self.writing_at = now
        existing = self._current(entity, body)
        if body.get("sparse") is True:
            merged = {k: v for k, v in existing.items() if k not in READ_ONLY}
            merged.update({k: v for k, v in body.items() if k not in READ_ONLY})
        else:
            merged = body
        stored = self._normalize(entity, merged, existing, existing["Id"])
        return self._replace(entity, existing, stored, now)

    def delete(self, entity: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        existing = self._current(entity, body)
        key = (entity, existing["Id"])
        self._effects_set(key, [])
        self._applied_set(key, {})
        del self.table(entity)[existing["Id"]]
        tombstone = {
            "domain": "QBO",
            "status": "Deleted",
            "Id": existing["Id"],
            "MetaData": {"LastUpdatedTime": self.clock.stamp(now)},
        }
        self.tombstones.setdefault(entity, {})[existing["Id"]] = tombstone
        if entity == "Attachable":
            self.files.pop(existing["Id"], None)
        return {k: v for k, v in tombstone.items() if k != "MetaData"}  # as the service answers

    def void(self, entity: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        existing = self._current(entity, body)
        voided = copy.deepcopy(existing)
        for line in voided.get("Line", []):
            line["Amount"] = Decimal(0)
        for name in ("TotalAmt", "Amount", "HomeTotalAmt", "UnappliedAmt"):
            if name in voided:
                voided[name] = Decimal(0)
        note = existing.get("PrivateNote")
        voided["PrivateNote"] = f"Voided - {note}" if note else "Voided"
        voided["TxnStatus"] = "Voided"
        key = (entity, existing["Id"])
        self._effects_set(key, [])
        self._applied_set(key, {})
        stored = {k: v for k, v in voided.items() if k not in READ_ONLY}
        return self._replace(entity, existing, stored, now)

    def _current(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        entity_id = body.get("Id")
        if not entity_id:
            raise Refusal("2020", "Required parameter Id is missing in the request", "Id")
        existing = self.table(entity).get(str(entity_id))
        if existing is None:
            raise not_found("Id")
        token = body.get("SyncToken")
        if token is None:
            raise Refusal("2020", "Required parameter SyncToken is missing in the request")
        if str(token) != existing["SyncToken"]:
            raise Refusal(
                "5010",
                "Stale Object Error : You and another user were working on this at the same "
                "time. The other user finished before you did, so your work was not saved.",
            )
        if existing.get("TxnStatus") == "Voided":
            raise business("This transaction has been voided and can't be changed.")
        return existing

    def _replace(
        self, entity: str, existing: dict[str, Any], stored: dict[str, Any], now: float
    ) -> dict[str, Any]:
        stored.update(
            Id=existing["Id"],
            SyncToken=str(int(existing["SyncToken"]) + 1),
            MetaData={
                "CreateTime": existing["MetaData"]["CreateTime"],
                "LastUpdatedTime": self.clock.stamp(now),
            },
            domain="QBO",
            sparse=False,
        )
        self.table(entity)[existing["Id"]] = stored
        return self.present(entity, stored)

    def _normalize(
        self, entity: str, body: dict[str, Any], existing: dict[str, Any] | None, entity_id: str
    ) -> dict[str, Any]:
        kept = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY}
        builder = getattr(self, f"_build_{entity.lower()}", None)
        if builder is None:
            raise Refusal("500", f"Operation Create is not supported for {entity}.")
        effects, applied = builder(kept, existing, entity_id) or ([], {})
        self._effects_set((entity, entity_id), effects)
        self._applied_set((entity, entity_id), applied)
        return kept

    def _effects_set(self, key: tuple[str, str], effects: list[tuple[str, Decimal]]) -> None:
        for account_id, amount in self.effects.pop(key, []):
            self.balances[account_id] = self.balances.get(account_id, Decimal(0)) - amount
        for account_id, amount in effects:
            self.balances[account_id] = self.balances.get(account_id, Decimal(0)) + amount
        if effects:
            self.effects[key] = effects

    def _applied_set(self, key: tuple[str, str], applied: dict[str, Decimal]) -> None:
        self.applied.pop(key, None)
        if applied:
            self.applied[key] = applied

    def _invoice_balance(self, invoice: dict[str, Any]) -> Decimal:
        paid = sum(
            (amounts.get(invoice["Id"], Decimal(0)) for amounts in self.applied.values()),
            Decimal(0),
        )
        return quantize(invoice["TotalAmt"] - paid, invoice["CurrencyRef"]["value"])

    # --- names and currencies ----------------------------------------------------------

    def currency_check(self, code: Any, element: str) -> str:
        code = str(code or self.home).upper()
        if code == self.home:
            return code
        if not self.multicurrency:
            raise business(
                f"Multicurrency is not enabled for this company: {code} cannot be used, only "
                f"the home currency {self.home}. Turn multicurrency on in QuickBooks first.",
                element,
            )
        if code not in CURRENCY_NAMES:
            raise business(f"The currency {code} is not supported.", element)
        self._currency_add(code)
        return code

    def _currency_add(self, code: str) -> None:
        table = self.table("CompanyCurrency")
        if any(row["Code"] == code for row in table.values()):
            return
        entity_id = str(self.next_ids.get("CompanyCurrency", 1))
        self.next_ids["CompanyCurrency"] = int(entity_id) + 1
        stamp = self.clock.stamp(self.created)
        table[entity_id] = {
            "Id": entity_id, "SyncToken": "0", "Code": code, "Name": CURRENCY_NAMES[code],
            "Active": True, "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
            "domain": "QBO", "sparse": False,
        }  # fmt: skip

    def currency_ref(self, code: str) -> dict[str, str]:
        return {"value": code, "name": CURRENCY_NAMES.get(code, code)}

    def rate_for(self, currency: str, day: date) -> Decimal:
        """The company's rate for `day`: one set through the API, else the rate feed's
        (a deterministic walk around `feed_rates`, at most ±1%)."""
        custom = self.custom_rates.get((currency, day.isoformat()))
        if custom is not None:
            return Decimal(custom["Rate"])
        base = self.feed_rates.get(currency)
        if base is None:
            raise business(f"There is no exchange rate for {currency}.", "ExchangeRate")
        digest = hashlib.sha256(f"{self.realm_id}:{currency}:{day}".encode()).digest()
        wobble = Decimal(int.from_bytes(digest[:2], "big") % 2001 - 1000) / Decimal(100000)
        return (base * (1 + wobble)).quantize(Decimal("1e-8"))

    def _unique_name(self, entities: tuple[str, ...], field_name: str, name: str, own: str,
                     detail: str) -> None:  # fmt: skip
        folded = name.casefold()
        for entity in entities:
            for row in self.table(entity).values():
                if row["Id"] == own and entity == entities[0]:
                    continue
                if str(row.get(field_name, "")).casefold() == folded:
                    raise Refusal("6240", detail, field_name)

    # --- builders: validate a body, fill in what the service computes -----------------------

    def _build_account(self, body: dict[str, Any], existing: Any, entity_id: str) -> None:
        name = _required(body, "Name")
        if len(name) > 100:
            raise Refusal("2050", "Name: max 100 characters", "Name")
        if re.search(r'[:"]', name):
            raise business("The account name can't contain a colon (:) or double quotes (\").")
        self._unique_name(("Account",), "Name", name, entity_id,
                          "The name supplied already exists. : Another account is already "
                          "using this name. Please use a different name.")  # fmt: skip
        account_type = body.get("AccountType") or SUBTYPE_TYPE.get(body.get("AccountSubType", ""))
        if not account_type:
            raise Refusal("2020", "Required parameter AccountType is missing in the request")
        if account_type not in CLASSIFICATION:
            raise business(f"{account_type} accounts cannot be created through the API.")
        body["AccountType"] = account_type
        body.setdefault("AccountSubType", DEFAULT_SUBTYPE[account_type])
        body["Classification"] = CLASSIFICATION[account_type]
        number = body.get("AcctNum")
        if number is not None:
            if len(number) > 7 or ":" in number:
                raise Refusal("2050", "AcctNum: at most 7 characters, no colon", "AcctNum")
            for row in self.table("Account").values():
                if row["Id"] != entity_id and row.get("AcctNum") == number:
                    raise business(f"Another account already uses the number {number}.")
        currency = self.currency_check((body.get("CurrencyRef") or {}).get("value"), "CurrencyRef")
        if existing is not None and currency != existing["CurrencyRef"]["value"]:
            raise business("You can't change the currency of an account.", "CurrencyRef")
        if currency != self.home and body["Classification"] not in BALANCE_SHEET:
            raise business(
                "Income and expense accounts are always in the home currency "
                f"{self.home}; {currency} cannot be used.",
                "CurrencyRef",
            )
        body["CurrencyRef"] = self.currency_ref(currency)
        body.setdefault("Active", True)
        body["SubAccount"] = False
        body["FullyQualifiedName"] = name
        for computed in ("CurrentBalance", "CurrentBalanceWithSubAccounts"):
            body.pop(computed, None)
        opening = body.pop("OpeningBalance", None)
        body.pop("OpeningBalanceDate", None)
        if opening is not None and existing is None:
            sign = 1 if body["Classification"] == "Asset" else -1
            self.balances[entity_id] = self.balances.get(entity_id, Decimal(0)) + sign * opening

    def _build_named(self, entity: str, body: dict[str, Any], entity_id: str) -> None:
        name = (
            body.get("DisplayName")
            or " ".join(str(body[k]) for k in ("GivenName", "FamilyName") if body.get(k))
            or body.get("CompanyName")
        )
        if not name:
            raise Refusal("2020", "Required parameter DisplayName is missing in the request")
        body["DisplayName"] = name
        names = ("Customer", "Vendor") if entity == "Customer" else ("Vendor", "Customer")
        self._unique_name(names, "DisplayName", name, entity_id, DUPLICATE_NAME)
        currency = self.currency_check((body.get("CurrencyRef") or {}).get("value"), "CurrencyRef")
        body["CurrencyRef"] = self.currency_ref(currency)
        body.setdefault("Active", True)
        body.pop("Balance", None)

    def _build_customer(self, body: dict[str, Any], existing: Any, entity_id: str) -> None:
        self._build_named("Customer", body, entity_id)
        body["FullyQualifiedName"] = body["DisplayName"]

    def _build_vendor(self, body: dict[str, Any], existing: Any, entity_id: str) -> None:
        self._build_named("Vendor", body, entity_id)
        body["Balance"] = Decimal(0)

    def _build_item(self, body: dict[str, Any], existing: Any, entity_id: str) -> None:
        name = _required(body, "Name")
        self._unique_name(("Item",), "Name", name, entity_id,
                          "The name supplied already exists. : Another product or service is "
                          "already using this name. Please use a different name.")  # fmt: skip
        body.setdefault("Type", "Service")
        income = self.account(body.get("IncomeAccountRef"), "IncomeAccountRef")
        body["IncomeAccountRef"] = {"value": income["Id"], "name": income["Name"]}
        body.setdefault("Active", True)
        body["FullyQualifiedName"] = name

    def _build_companycurrency(self, body: dict[str, Any], existing: Any, entity_id: str) -> None:
        if not self.multicurrency:
            raise business("Multicurrency is not enabled for this company.", "Code")
        code = str(_required(body, "Code")).upper()
        if code == self.home:
            raise business("The home currency is always there and cannot be added.", "Code")
        if code not in CURRENCY_NAMES:
            raise business(f"The currency {code} is not supported.", "Code")
        for row in self.table("CompanyCurrency").values():
            if row["Id"] != entity_id and row["Code"] == code:
                raise Refusal("6240", f"The currency {code} is already in the list.", "Code")
        body["Code"], body["Name"] = code, CURRENCY_NAMES[code]
        body.setdefault("Active", True)

    def _build_attachable(self, body: dict[str, Any], existing: Any, entity_id: str) -> None:
        for ref in body.get("AttachableRef", []):
            target = ref.get("EntityRef") or {}
            entity = ENTITIES.get(str(target.get("type", "")).lower())
            if entity is None or str(target.get("value")) not in self.table(entity):
                raise Refusal(
                    "2500",
                    f"Invalid Reference Id : {target.get('type')} {target.get('value')} not found",
                    "AttachableRef",
                )
            target["type"] = entity
        if not body.get("FileName") and not body.get("Note"):
            raise Refusal("2020", "Required parameter FileName or Note is missing in the request")
        if body.get("FileName"):
            extension = body["FileName"].rsplit(".", 1)[-1].lower()
            if extension not in ATTACHMENT_TYPES:
                raise business(f"Files of type .{extension} cannot be attached.", "FileName")
            if existing is not None:
                for kept in ("Size", "ContentType", "FileAccessUri"):
                    if kept in existing:
                        body[kept] = existing[kept]
        body.pop("TempDownloadUri", None)

    # --- transactions ----------------------------------------------------------------

    def _txn_currency(self, body: dict[str, Any], currency: str) -> tuple[str, Decimal]:
        """The transaction's currency (given, or `currency`, which it must equal) and its
        rate (home per one unit), filling CurrencyRef, ExchangeRate and TxnDate."""
        given = (body.get("CurrencyRef") or {}).get("value")
        if given is not None and str(given).upper() != currency:
            raise business(
                f"The transaction is in {str(given).upper()} but its account is in {currency}.",
                "CurrencyRef",
            )
        day = _txn_date(body, self)
        rate = body.get("ExchangeRate")
        if currency == self.home:
            if rate is not None and Decimal(rate) != 1:
                raise business("A home-currency transaction has an exchange rate of 1.",
                               "ExchangeRate")  # fmt: skip
            rate = Decimal(1)
        elif rate is None:
            rate = self.rate_for(currency, day)
        elif Decimal(rate) <= 0:
            raise business("The exchange rate must be greater than zero.", "ExchangeRate")
        if self.multicurrency:
            body["CurrencyRef"] = self.currency_ref(currency)
            body["ExchangeRate"] = Decimal(rate)
        else:
            body.pop("CurrencyRef", None)
            body.pop("ExchangeRate", None)
            body["CurrencyRef"] = self.currency_ref(self.home)
        self._text_limits(body)
        return currency, Decimal(rate)

    def _text_limits(self, body: dict[str, Any]) -> None:
        if len(str(body.get("DocNumber", ""))) > DOC_NUMBER_MAX:
            raise Refusal("2050", f"DocNumber: at most {DOC_NUMBER_MAX} characters", "DocNumber")
        if len(str(body.get("PrivateNote", ""))) > 4000:
            raise Refusal("2050", "PrivateNote: at most 4000 characters", "PrivateNote")

    def _in_account(self, amount: Decimal, currency: str, rate: Decimal,
                    account: dict[str, Any]) -> Decimal:  # fmt: skip
        """`amount` of the transaction's `currency` in `account`'s currency."""
        own = account["CurrencyRef"]["value"]
        if own == currency:
            return amount
        if own == self.home:
            return quantize(amount * rate, self.home)
        raise business("You can only use one foreign currency per transaction.", "AccountRef")

    def _amount(self, value: Any, currency: str, element: str) -> Decimal:
        if value is None:
            raise Refusal("2020", f"Required parameter {element} is missing in the request")
        amount = Decimal(value)
        if not fits_currency(amount, currency):
            raise business(f"{amount} has more decimal places than {currency} allows.", element)
        return amount

    def _lines(self, body: dict[str, Any], detail_type: str) -> list[dict[str, Any]]:
        lines = body.get("Line") or []
        if not lines:
            raise Refusal("2020", "Required parameter Line is missing in the request", "Line")
        for number, line in enumerate(lines, start=1):
            line_type = line.get("DetailType")
            if line_type is None:
                raise Refusal("2020", "Required parameter Line.DetailType is missing in the "
                              "request", "Line")  # fmt: skip
            if line_type != detail_type or detail_type not in line:
                raise business(f"Line {number}: this transaction takes {detail_type} lines "
                               "with their detail.", "Line")  # fmt: skip
            line["Id"] = str(number)
        return lines

    def _named_ref(self, ref: Any, entities: tuple[str, ...], element: str) -> dict[str, Any]:
        value = str((ref or {}).get("value", ""))
        for entity in entities:
            row = self.table(entity).get(value)
            if row is not None:
                named = {"value": value, "name": row.get("DisplayName") or row.get("Name", "")}
                if isinstance(ref, dict) and "type" in ref:
                    named["type"] = ref["type"]
                return named
        raise Refusal("2500", f"Invalid Reference Id : {element} {value} not found", element)

    def _build_purchase(self, body: dict[str, Any], existing: Any, entity_id: str) -> Any:
        payment_type = _required(body, "PaymentType")
        paying = self.account(body.get("AccountRef"), "AccountRef")
        allowed = PAYING_TYPES.get(payment_type, set())
        if paying["AccountType"] not in allowed:
            raise business(
                f"A {payment_type} purchase is paid from a "
                f"{' or '.join(sorted(allowed)) or 'bank'} account, not from "
                f"{paying['Name']} ({paying['AccountType']}).",
                "AccountRef",
            )
        body["AccountRef"] = {"value": paying["Id"], "name": paying["Name"]}
        if body.get("EntityRef"):
            body["EntityRef"] = self._named_ref(body["EntityRef"], ("Vendor", "Customer"),
                                                "EntityRef")  # fmt: skip
        currency, rate = self._txn_currency(body, paying["CurrencyRef"]["value"])
        sign = 1 if body.get("Credit") else -1
        total, effects = Decimal(0), []
        for line in self._lines(body, "AccountBasedExpenseLineDetail"):
            detail = line["AccountBasedExpenseLineDetail"]
            target = self.account(detail.get("AccountRef"), "AccountRef")
            detail["AccountRef"] = {"value": target["Id"], "name": target["Name"]}
            amount = self._amount(line.get("Amount"), currency, "Amount")
            total += amount
            effects.append((target["Id"], -sign * self._in_account(amount, currency, rate, target)))
        if total < 0:
            raise business("The transaction total can't be negative.", "Line")
        body["TotalAmt"] = total
        effects.append((paying["Id"], sign * total))
        return effects, {}

    def _build_deposit(self, body: dict[str, Any], existing: Any, entity_id: str) -> Any:
        bank = self.account(body.get("DepositToAccountRef"), "DepositToAccountRef")
        if bank["AccountType"] not in ("Bank", "Other Current Asset"):
            raise business("Deposits go to a bank or other current asset account.",
                           "DepositToAccountRef")  # fmt: skip
        body["DepositToAccountRef"] = {"value": bank["Id"], "name": bank["Name"]}
        currency, rate = self._txn_currency(body, bank["CurrencyRef"]["value"])
        total, effects = Decimal(0), []
        for line in self._lines(body, "DepositLineDetail"):
            detail = line["DepositLineDetail"]
            target = self.account(detail.get("AccountRef"), "AccountRef")
            detail["AccountRef"] = {"value": target["Id"], "name": target["Name"]}
            if detail.get("Entity"):
                detail["Entity"] = self._named_ref(detail["Entity"], ("Customer", "Vendor"),
                                                   "Entity")  # fmt: skip
            amount = self._amount(line.get("Amount"), currency, "Amount")
            total += amount
            effects.append((target["Id"], -self._in_account(amount, currency, rate, target)))
        if total < 0:
            raise business("The deposit total can't be negative.", "Line")
        body["TotalAmt"] = total
        if currency != self.home:
            body["HomeTotalAmt"] = quantize(total * rate, self.home)
        else:
            body.pop("HomeTotalAmt", None)
        effects.append((bank["Id"], total))
        return effects, {}

    def _build_transfer(self, body: dict[str, Any], existing: Any, entity_id: str) -> Any:
        source = self.account(body.get("FromAccountRef"), "FromAccountRef")
        target = self.account(body.get("ToAccountRef"), "ToAccountRef")
        if source["Id"] == target["Id"]:
            raise business("You can't transfer money to the same account.", "ToAccountRef")
        for account, element in ((source, "FromAccountRef"), (target, "ToAccountRef")):
            if account["Classification"] not in BALANCE_SHEET:
                raise business(f"{account['Name']} is not a balance sheet account.", element)
        currencies = {source["CurrencyRef"]["value"], target["CurrencyRef"]["value"]}
        foreign = currencies - {self.home}
        if len(foreign) > 1:
            raise business("You can only use one foreign currency per transaction.")
        currency, rate = self._txn_currency(body, foreign.pop() if foreign else self.home)
        amount = self._amount(body.get("Amount"), currency, "Amount")
        if amount <= 0:
            raise business("The transfer amount must be greater than zero.", "Amount")
        body["FromAccountRef"] = {"value": source["Id"], "name": source["Name"]}
        body["ToAccountRef"] = {"value": target["Id"], "name": target["Name"]}
        effects = [
            (source["Id"], -self._in_account(amount, currency, rate, source)),
            (target["Id"], self._in_account(amount, currency, rate, target)),
        ]
        return effects, {}

    def _build_journalentry(self, body: dict[str, Any], existing: Any, entity_id: str) -> Any:
        given = (body.get("CurrencyRef") or {}).get("value")
        currency = self.currency_check(given, "CurrencyRef")
        currency, rate = self._txn_currency(body, currency)
        debits = credits = Decimal(0)
        effects = []
        for line in self._lines(body, "JournalEntryLineDetail"):
            detail = line["JournalEntryLineDetail"]
            posting = _required(detail, "PostingType")
            target = self.account(detail.get("AccountRef"), "AccountRef")
            detail["AccountRef"] = {"value": target["Id"], "name": target["Name"]}
            if target["AccountType"] in ("Accounts Receivable", "Accounts Payable"):
                who = "customer" if target["AccountType"] == "Accounts Receivable" else "vendor"
                if not (detail.get("Entity") or {}).get("EntityRef"):
                    raise business(
                        f"When you use {target['AccountType']}, you must choose a {who} in "
                        "the Name field.",
                        "Entity",
                    )
            amount = self._amount(line.get("Amount"), currency, "Amount")
            if amount < 0:
                raise business("Journal entry lines can't be negative.", "Amount")
            in_account = self._in_account(amount, currency, rate, target)
            if posting == "Debit":
                debits += amount
                effects.append((target["Id"], in_account))
            else:
                credits += amount
                effects.append((target["Id"], -in_account))
        if debits != credits:
            raise business(
                f"The transaction is not in balance: debits {debits}, credits {credits}. Make "
                "sure the debits equal the credits.",
                "Line",
            )
        body["TotalAmt"] = debits
        if currency != self.home:
            body["HomeTotalAmt"] = quantize(debits * rate, self.home)
        else:
            body.pop("HomeTotalAmt", None)
        return effects, {}

    def _receivable(self, currency: str) -> dict[str, Any]:
        """The A/R account of `currency` (QuickBooks keeps one per currency and makes it
        on first use)."""
        for row in self.table("Account").values():
            if row["AccountType"] == "Accounts Receivable" and \
                    row["CurrencyRef"]["value"] == currency:  # fmt: skip
                return row
        entity_id = str(self.next_ids.get("Account", 1))
        self.next_ids["Account"] = int(entity_id) + 1
        row = {"Name": f"Accounts Receivable (A/R) - {currency}", "AccountType":
               "Accounts Receivable", "CurrencyRef": {"value": currency}}  # fmt: skip
        self._build_account(row, None, entity_id)
        stamp = self.clock.stamp(self.created)
        row.update(Id=entity_id, SyncToken="0", domain="QBO", sparse=False,
                   MetaData={"CreateTime": stamp, "LastUpdatedTime": stamp})  # fmt: skip
        self.table("Account")[entity_id] = row
        return row

    def _build_invoice(self, body: dict[str, Any], existing: Any, entity_id: str) -> Any:
        customer = self.table("Customer").get(str((body.get("CustomerRef") or {}).get("value")))
        if customer is None:
            raise Refusal("2500", "Invalid Reference Id : CustomerRef not found", "CustomerRef")
        body["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        currency, rate = self._txn_currency(body, customer["CurrencyRef"]["value"])
        total, effects = Decimal(0), []
        for line in self._lines(body, "SalesItemLineDetail"):
            detail = line["SalesItemLineDetail"]
            item = self.table("Item").get(str((detail.get("ItemRef") or {}).get("value")))
            if item is None:
                raise Refusal("2500", "Invalid Reference Id : ItemRef not found", "ItemRef")
            detail["ItemRef"] = {"value": item["Id"], "name": item["Name"]}
            amount = self._amount(line.get("Amount"), currency, "Amount")
            total += amount
            income = self.table("Account")[item["IncomeAccountRef"]["value"]]
            effects.append((income["Id"], -self._in_account(amount, currency, rate, income)))
        receivable = self._receivable(currency)
        effects.append((receivable["Id"], total))
        body["TotalAmt"] = total
        if currency != self.home:
            body["HomeTotalAmt"] = quantize(total * rate, self.home)
        body["ARAccountRef"] = {"value": receivable["Id"], "name": receivable["Name"]}
        body.setdefault("DueDate", body["TxnDate"])
        if not body.get("DocNumber"):
            self.doc_counter += 1
            body["DocNumber"] = str(self.doc_counter)
        body.pop("Balance", None)
        return effects, {}

    def _build_payment(self, body: dict[str, Any], existing: Any, entity_id: str) -> Any:
        customer = self.table("Customer").get(str((body.get("CustomerRef") or {}).get("value")))
        if customer is None:
            raise Refusal("2500", "Invalid Reference Id : CustomerRef not found", "CustomerRef")
        body["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        currency, rate = self._txn_currency(body, customer["CurrencyRef"]["value"])
        total = self._amount(body.get("TotalAmt"), currency, "TotalAmt")
        if total < 0:
            raise business("The payment amount can't be negative.", "TotalAmt")
        applied: dict[str, Decimal] = {}
        for line in body.get("Line", []):
            amount = self._amount(line.get("Amount"), currency, "Amount")
            for linked in line.get("LinkedTxn", []):
                invoice = self.table("Invoice").get(str(linked.get("TxnId")))
                if linked.get("TxnType") != "Invoice" or invoice is None or \
                        invoice["CustomerRef"]["value"] != customer["Id"]:  # fmt: skip
                    raise Refusal("2500", f"Invalid Reference Id : Invoice {linked.get('TxnId')}"
                                  " not found for this customer", "LinkedTxn")  # fmt: skip
                others = sum((a.get(invoice["Id"], Decimal(0)) for k, a in self.applied.items()
                              if k != ("Payment", entity_id)), Decimal(0))  # fmt: skip
                if amount > invoice["TotalAmt"] - others:
                    raise business("The payment amount can't be more than the balance due.",
                                   "Line")  # fmt: skip
                applied[invoice["Id"]] = applied.get(invoice["Id"], Decimal(0)) + amount
        if sum(applied.values(), Decimal(0)) > total:
            raise business("The amounts applied are more than the payment.", "Line")
        body["UnappliedAmt"] = total - sum(applied.values(), Decimal(0))
        if body.get("DepositToAccountRef"):
            bank = self.account(body["DepositToAccountRef"], "DepositToAccountRef")
        else:
            bank = next(a for a in self.table("Account").values()
                        if a.get("AccountSubType") == "UndepositedFunds")  # fmt: skip
        body["DepositToAccountRef"] = {"value": bank["Id"], "name": bank["Name"]}
        receivable = self._receivable(currency)
        effects = [
            (bank["Id"], self._in_account(total, currency, rate, bank)),
            (receivable["Id"], -total),
        ]
        body["ARAccountRef"] = {"value": receivable["Id"], "name": receivable["Name"]}
        return effects, applied


def _required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise Refusal("2020", f"Required parameter {name} is missing in the request", name)
    return value


def _txn_date(body: dict[str, Any], company: Company) -> date:
    text = body.get("TxnDate")
    if text is None:
        day = company.clock.today(company.writing_at)
        body["TxnDate"] = day.isoformat()
        return day
    return date.fromisoformat(str(text))


def _epoch(stamp: str) -> float:
    return stamp_to_epoch(stamp)
