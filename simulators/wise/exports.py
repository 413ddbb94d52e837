"""Wise's statement files, rendered from a `statement.json` body (reference/wise.md §4).

`statement_csv`, `statement_camt053` and `statement_mt940` take the JSON statement as a
dict (amounts as Decimal or int, as `json.loads(..., parse_float=Decimal)` gives them) and
return the text Wise would serve as `statement.csv`, `.xml` and `.mt940`:

- CSV: Wise's current balance-statement header, newest line first, `DD-MM-YYYY` dates,
  signed amounts with the fees inside and "Total fees" as their breakdown.
- CAMT.053: ISO 20022 camt.053.001.10 as Wise issues it: `OPBD`/`CLBD` balances, one
  booked `<Ntry>` per line with the reference number in `AcctSvcrRef` and (like Wise) in
  `BkTxCd/Prtry/Cd`, fees as included charges, the description in `AddtlNtryInf`.
- MT940: SWIFT fields `:20:`…`:62F:`; the reference number, longer than the 16 characters
  of the `:61:` reference, goes on the `:61:`'s second line as Wise's files put it.

All times are UTC; a line's date is the UTC date of its `date`. Only the documented JSON
shape is read, so the simulator can serve any statement it builds.
"""

from __future__ import annotations

import csv
import io
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from treasury.money import minor_units

CSV_COLUMNS = (
    "TransferWise ID", "Date", "Date Time", "Amount", "Currency", "Description",
    "Payment Reference", "Running Balance", "Exchange From", "Exchange To", "Exchange Rate",
    "Payer Name", "Payee Name", "Payee Account Number", "Merchant", "Card Last Four Digits",
    "Card Holder Full Name", "Attachment", "Note", "Total fees", "Exchange To Amount",
    "Transaction Type", "Transaction Details Type",
)  # fmt: skip
CAMT_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.10"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
# SWIFT transaction type codes for the `:61:` by Wise detail type; others are NMSC.
SWIFT_CODES = {
    "TRANSFER": "NTRF", "DEPOSIT": "NTRF", "MONEY_ADDED": "NTRF", "DIRECT_DEBIT": "NDDT",
    "CONVERSION": "NFEX", "BALANCE_INTEREST": "NINT", "ACCRUAL_CHARGE": "NCHG",
}  # fmt: skip


# --- reading the JSON ---------------------------------------------------------------------


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"amounts must be Decimal, int or str, not {type(value).__name__}")
    return Decimal(value)


def _value(money: Any) -> Decimal | None:
    return _number(money["value"]) if isinstance(money, dict) and "value" in money else None


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _currency(statement: dict[str, Any]) -> str:
    query = statement.get("query") or {}
    end = statement.get("endOfStatementBalance") or {}
    first = (statement.get("transactions") or [{}])[0].get("amount", {})
    return query.get("currency") or end.get("currency") or first.get("currency") or "XXX"


def _chronological(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """Oldest first (Wise serves newest first); ties keep the file's reverse order."""
    lines = list(reversed(statement.get("transactions") or []))
    return sorted(lines, key=lambda line: _moment(line["date"]))


def _balances(statement: dict[str, Any], lines: list[dict[str, Any]]) -> tuple[Decimal, Decimal]:
    """(opening, closing): the closing Wise states, less the lines, opens the statement."""
    total = sum((_value(line["amount"]) or Decimal(0) for line in lines), Decimal(0))
    closing = _value(statement.get("endOfStatementBalance"))
    if closing is None:
        closing = _value(lines[-1].get("runningBalance")) if lines else Decimal(0)
    return closing - total, closing


@dataclass(frozen=True)
class _Period:
    """What every file states about the statement besides its lines."""

    currency: str
    lines: list[dict[str, Any]]  # oldest first
    opening: Decimal
    closing: Decimal
    first: datetime  # the period asked for, else the first and last line's times
    last: datetime
    account_id: str

    @classmethod
    def of(cls, statement: dict[str, Any]) -> _Period:
        lines = _chronological(statement)
        opening, closing = _balances(statement, lines)
        query = statement.get("query") or {}
        epoch = datetime.fromtimestamp(0, UTC)
        first = _moment(query["intervalStart"]) if query.get("intervalStart") else None
        last = _moment(query["intervalEnd"]) if query.get("intervalEnd") else None
        first = first or (_moment(lines[0]["date"]) if lines else epoch)
        last = last or (_moment(lines[-1]["date"]) if lines else first)
        account_id = str(query.get("accountId") or "WISE")
        return cls(_currency(statement), lines, opening, closing, first, last, account_id)


def _amount_text(value: Decimal, currency: str, decimal_mark: str = ".") -> str:
    """At the currency's minor unit; an amount finer than that is a bug, not rounded."""
    places = minor_units(currency)
    exact = value.quantize(Decimal(1).scaleb(-places))
    if exact != value:
        raise ValueError(f"{value} {currency} has more than {places} decimals")
    text = f"{exact:f}"
    return text.replace(".", decimal_mark) if decimal_mark != "." else text


def _exchange(line: dict[str, Any], currency: str) -> dict[str, Any]:
    """A conversion or a card payment abroad: Wise's CSV columns, and the other side.

    `from`, `to`, `rate` and `to_amount` as the CSV shows them; `counter` is the
    (currency, amount) on the side that is not this balance's, when the JSON gives it.
    """
    details = line.get("details") or {}
    exchange = line.get("exchangeDetails") or {}
    found: dict[str, Any] = {"from": "", "to": "", "rate": "", "to_amount": None, "counter": None}
    source, target = details.get("sourceAmount"), details.get("targetAmount")
    if not (source and target):
        other = exchange.get("toAmount") or exchange.get("forAmount") or details.get("amount")
        if not (isinstance(other, dict) and other.get("currency") not in (None, currency)):
            return found
        source, target = {"currency": currency}, other
    rate = details.get("rate", exchange.get("rate"))
    found["from"], found["to"] = source["currency"], target["currency"]
    found["rate"] = "" if rate is None else str(rate)
    found["to_amount"] = _value(target)
    if target["currency"] != currency:
        found["counter"] = (target["currency"], _value(target))
    elif _value(source) is not None:
        found["counter"] = (source["currency"], _value(source))
    return found


def _counterparty(line: dict[str, Any]) -> tuple[str, str, str, str]:
    """(payer, payee, payee account, merchant) from the line's details."""
    details = line.get("details") or {}
    recipient = details.get("recipient") or {}
    merchant = details.get("merchant") or {}
    return (
        details.get("senderName") or "",
        recipient.get("name") or "",
        recipient.get("bankAccount") or "",
        merchant.get("name") or "",
    )


# --- CSV -------------------------------------------------------------------------------------


def statement_csv(statement: dict[str, Any]) -> str:
    """Wise's balance-statement CSV (current 23-column header), newest line first."""
    currency = _currency(statement)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in reversed(_chronological(statement)):
        moment = _moment(line["date"])
        details = line.get("details") or {}
        exchange = _exchange(line, currency)
        payer, payee, payee_account, merchant = _counterparty(line)
        running = _value(line.get("runningBalance"))
        fees = _value(line.get("totalFees")) or Decimal(0)
        writer.writerow([
            line.get("referenceNumber") or "",
            moment.strftime("%d-%m-%Y"),
            moment.strftime("%d-%m-%Y %H:%M:%S.") + f"{moment.microsecond // 1000:03d}",
            _amount_text(_value(line["amount"]) or Decimal(0), currency),
            currency,
            details.get("description") or "",
            details.get("paymentReference") or "",
            "" if running is None else _amount_text(running, currency),
            exchange["from"], exchange["to"], exchange["rate"],
            payer, payee, payee_account, merchant,
            details.get("cardLastFourDigits") or "", details.get("cardHolderFullName") or "",
            "", "",
            _amount_text(fees, currency),
            "" if exchange["to_amount"] is None
            else _amount_text(exchange["to_amount"], exchange["to"]),
            line.get("type") or "",
            details.get("type") or "",
        ])  # fmt: skip
    return out.getvalue()


# --- CAMT.053 --------------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
    node = etree.SubElement(parent, f"{{{CAMT_NAMESPACE}}}{tag}", **attrs)
    if text is not None:
        node.text = text
    return node


def _path(parent: etree._Element, path: str, text: str | None = None, **attrs: str):
    """Nested elements `A/B/C`, the last with text and attributes."""
    *outer, last = path.split("/")
    for tag in outer:
        parent = _sub(parent, tag)
    return _sub(parent, last, text, **attrs)


def _camt_amount(parent: etree._Element, tag: str, value: Decimal, currency: str) -> None:
    _sub(parent, tag, _amount_text(abs(value), currency), Ccy=currency)


def _camt_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _camt_balance(statement: etree._Element, code: str, value: Decimal, currency: str,
                  moment: datetime) -> None:  # fmt: skip
    balance = _sub(statement, "Bal")
    _path(balance, "Tp/CdOrPrtry/Cd", code)
    _camt_amount(balance, "Amt", value, currency)
    _sub(balance, "CdtDbtInd", "DBIT" if value < 0 else "CRDT")
    _path(balance, "Dt/DtTm", _camt_time(moment))


def _camt_summary(statement: etree._Element, amounts: list[Decimal], currency: str) -> None:
    credits = [a for a in amounts if a >= 0]
    debits = [a for a in amounts if a < 0]
    net = sum(amounts, Decimal(0))
    summary = _sub(statement, "TxsSummry")
    total = _sub(summary, "TtlNtries")
    _sub(total, "NbOfNtries", str(len(amounts)))
    _sub(total, "Sum", _amount_text(sum((abs(a) for a in amounts), Decimal(0)), currency))
    net_node = _sub(total, "TtlNetNtry")
    _sub(net_node, "Amt", _amount_text(abs(net), currency))
    _sub(net_node, "CdtDbtInd", "DBIT" if net < 0 else "CRDT")
    for tag, group in (("TtlCdtNtries", credits), ("TtlDbtNtries", debits)):
        node = _sub(summary, tag)
        _sub(node, "NbOfNtries", str(len(group)))
        _sub(node, "Sum", _amount_text(sum((abs(a) for a in group), Decimal(0)), currency))


def _signed(line: dict[str, Any]) -> Decimal:
    amount = abs(_value(line["amount"]) or Decimal(0))
    return -amount if _is_debit(line) else amount


def _is_debit(line: dict[str, Any]) -> bool:
    if line.get("type") in ("CREDIT", "DEBIT"):
        return line["type"] == "DEBIT"
    return (_value(line["amount"]) or Decimal(0)) < 0


def _camt_entry(statement: etree._Element, line: dict[str, Any], currency: str) -> None:
    moment = _moment(line["date"])
    reference = line.get("referenceNumber") or ""
    details = line.get("details") or {}
    debit = _is_debit(line)
    entry = _sub(statement, "Ntry")
    _camt_amount(entry, "Amt", _value(line["amount"]) or Decimal(0), currency)
    _sub(entry, "CdtDbtInd", "DBIT" if debit else "CRDT")
    _path(entry, "Sts/Cd", "BOOK")
    _path(entry, "BookgDt/DtTm", _camt_time(moment))
    _path(entry, "ValDt/Dt", moment.date().isoformat())
    if reference:
        _sub(entry, "AcctSvcrRef", reference)
        _path(entry, "BkTxCd/Prtry/Cd", reference)
    fee = _value(line.get("totalFees")) or Decimal(0)
    if fee:
        charges = _sub(entry, "Chrgs")
        _camt_amount(charges, "TtlChrgsAndTaxAmt", fee, currency)
        record = _sub(charges, "Rcrd")
        _camt_amount(record, "Amt", fee, currency)
        _sub(record, "CdtDbtInd", "DBIT")
        _sub(record, "ChrgInclInd", "true")
    _camt_details(entry, line, currency, debit)
    if details.get("description"):
        _sub(entry, "AddtlNtryInf", details["description"][:500])


def _camt_details(entry: etree._Element, line: dict[str, Any], currency: str,
                  debit: bool) -> None:  # fmt: skip
    details = line.get("details") or {}
    exchange = _exchange(line, currency)
    payer, payee, _, merchant = _counterparty(line)
    party = (merchant or payee) if debit else payer
    reference = details.get("paymentReference") or ""
    if not (party or reference or exchange["counter"]):
        return
    transaction = _path(entry, "NtryDtls/TxDtls")
    if exchange["counter"] and exchange["counter"][1] is not None:
        counter_currency, counter_amount = exchange["counter"]
        instructed = _path(transaction, "AmtDtls/InstdAmt")
        _camt_amount(instructed, "Amt", counter_amount, counter_currency)
        if exchange["rate"]:  # XchgRate is mandatory in CcyXchg
            rates = _sub(instructed, "CcyXchg")
            _sub(rates, "SrcCcy", exchange["from"])
            _sub(rates, "TrgtCcy", exchange["to"])
            _sub(rates, "XchgRate", exchange["rate"])
    if party:
        _path(transaction, f"RltdPties/{'Cdtr' if debit else 'Dbtr'}/Pty/Nm", party[:140])
    if reference:
        _path(transaction, "RmtInf/Ustrd", reference[:140])


def statement_camt053(statement: dict[str, Any]) -> str:
    """ISO 20022 camt.053.001.10, one `<Stmt>` for the balance and period."""
    period = _Period.of(statement)
    currency, lines, first, last = period.currency, period.lines, period.first, period.last
    account_id = period.account_id
    stamp = f"{account_id}-{first:%Y%m%d}-{last:%Y%m%d}"
    root = etree.Element(f"{{{CAMT_NAMESPACE}}}Document", nsmap={None: CAMT_NAMESPACE, "xsi": XSI})
    message = _sub(root, "BkToCstmrStmt")
    header = _sub(message, "GrpHdr")
    _sub(header, "MsgId", f"WISE-{stamp}")
    _sub(header, "CreDtTm", _camt_time(last))
    node = _sub(message, "Stmt")
    _sub(node, "Id", stamp)
    _sub(node, "CreDtTm", _camt_time(last))
    span = _sub(node, "FrToDt")
    _sub(span, "FrDtTm", _camt_time(first))
    _sub(span, "ToDtTm", _camt_time(last))
    account = _sub(node, "Acct")
    _path(account, "Id/Othr/Id", account_id)
    _sub(account, "Ccy", currency)
    holder = statement.get("accountHolder") or {}
    owner = holder.get("businessName") or " ".join(
        filter(None, (holder.get("firstName"), holder.get("lastName")))
    )
    if owner:
        _path(account, "Ownr/Nm", owner)
    issuer = (statement.get("issuer") or {}).get("name")
    if issuer:
        _path(account, "Svcr/FinInstnId/Nm", issuer)
    _camt_balance(node, "OPBD", period.opening, currency, first)
    _camt_balance(node, "CLBD", period.closing, currency, last)
    _camt_summary(node, [_signed(line) for line in lines], currency)
    for line in lines:
        _camt_entry(node, line, currency)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()


# --- MT940 -----------------------------------------------------------------------------------


def _mt940_balance(tag: str, value: Decimal, currency: str, moment: datetime) -> str:
    mark = "D" if value < 0 else "C"
    return f":{tag}:{mark}{moment:%y%m%d}{currency}{_mt940_amount(value, currency)}"


def _mt940_amount(value: Decimal, currency: str) -> str:
    text = _amount_text(abs(value), currency, ",")
    return text if "," in text else f"{text},"  # SWIFT amounts always carry the comma


def _mt940_details(text: str) -> list[str]:
    """`:86:` text: at most 6 lines of 65 characters, none starting with ':' or '-'."""
    cleaned = " ".join(text.split())
    chunks = textwrap.wrap(cleaned, width=64, break_on_hyphens=False)[:6]
    return [f" {chunk}" if chunk[:1] in ":-" else chunk for chunk in chunks]


def statement_mt940(statement: dict[str, Any]) -> str:
    """A SWIFT MT940 customer statement for the balance and period."""
    period = _Period.of(statement)
    currency, account_id, last = period.currency, period.account_id, period.last
    out = [
        f":20:{('W' + account_id + f'{last:%y%m%d}')[:16]}",
        f":25:{account_id[:35]}",
        ":28C:1/1",
        _mt940_balance("60F", period.opening, currency, period.first),
    ]
    for line in period.lines:
        amount = _value(line["amount"]) or Decimal(0)
        moment = _moment(line["date"])
        details = line.get("details") or {}
        debit = _is_debit(line)
        code = SWIFT_CODES.get(details.get("type") or "", "NMSC")
        out.append(
            f":61:{moment:%y%m%d%m%d}{'D' if debit else 'C'}{_mt940_amount(amount, currency)}"
            f"{code}NONREF"
        )
        if line.get("referenceNumber"):
            out.append(line["referenceNumber"])
        text = _mt940_details(details.get("description") or "")
        if text:
            out.append(f":86:{text[0]}")
            out.extend(text[1:])
    out.append(_mt940_balance("62F", period.closing, currency, last))
    out.append(_mt940_balance("64", period.closing, currency, last))
    return "\n".join(out) + "\n"
