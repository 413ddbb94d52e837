"""CAMT.053 (ISO 20022 BankToCustomerStatement) XML, any version from camt.053.001.02.

One line per booked `<Ntry>` (pending and informational entries are counted, not stored),
numbered by the file line the entry starts on. Read per entry: `Amt`/`@Ccy` and
`CdtDbtInd` (the sign), `BookgDt` (`DtTm` with its offset, or `Dt`; the UTC date keys the
line), the reference (`AcctSvcrRef`, else a Wise reference in `BkTxCd/Prtry/Cd`, where
Wise's own files put it, else `TxDtls/Refs/AcctSvcrRef`), charges (`Chrgs`, informational:
Wise's amount has the fee inside), `AddtlNtryInf` or `RmtInf/Ustrd` for the text,
`RltdPties` for the counterparty and `AmtDtls/InstdAmt` with `CcyXchg` for the other side
of a conversion. Balances: `OPBD` (or `PRCD`) opens and `CLBD` closes each `<Stmt>`.

Parsed safely: no DTD, no entities, no network (a DOCTYPE is refused outright).
"""

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

from lxml import etree

from accounts.lines import StatementLine
from accounts.statements.common import (
    ParsedStatement,
    StatementFileError,
    amount_parse,
    balance_check,
    is_wise_reference,
    wise_type_for,
)

FORMAT = "camt053"
NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d{2})$")
OPENING_CODES = ("OPBD", "PRCD")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip


def _document(data: bytes) -> tuple[etree._Element, str]:
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        reason = re.sub(r", line \d+, column \d+$", "", exc.msg)
        raise StatementFileError(exc.lineno, f"the XML is not well-formed ({reason})") from exc
    if root.getroottree().docinfo.doctype:
        raise StatementFileError(1, "the XML declares a DOCTYPE, which a statement never needs")
    namespace = etree.QName(root).namespace or ""
    match = NAMESPACE.match(namespace)
    if etree.QName(root).localname != "Document" or match is None:
        raise StatementFileError(root.sourceline, "this XML is not an ISO 20022 camt.053 statement")
    if match.group(1) != "camt.053":
        raise StatementFileError(
            root.sourceline,
            f"this is a {match.group(1)} message; only camt.053 account statements are imported",
        )
    return root, namespace


class _Reader:
    """Element paths with the document's namespace bound to `c:`."""

    def __init__(self, namespace: str) -> None:
        self.ns = {"c": namespace}

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return node.findall(path, namespaces=self.ns)

    def one(self, node: etree._Element, path: str) -> etree._Element | None:
        return node.find(path, namespaces=self.ns)

    def text(self, node: etree._Element, path: str) -> str:
        return (node.findtext(path, default="", namespaces=self.ns) or "").strip()

    def signed_amount(self, node: etree._Element, what: str) -> tuple[Decimal, str]:
        amount_node = self.one(node, "c:Amt")
        if amount_node is None:
            raise StatementFileError(node.sourceline, f"the {what} has no <Amt>")
        value = amount_parse(amount_node.text or "", line_no=amount_node.sourceline, what=what)
        indicator = self.text(node, "c:CdtDbtInd")
        if indicator not in ("CRDT", "DBIT"):
            raise StatementFileError(
                node.sourceline, f"the {what} has no credit/debit indicator (CRDT or DBIT)"
            )
        return (-value if indicator == "DBIT" else value), amount_node.get("Ccy", "")

    def moment(self, node: etree._Element | None, line_no: int | None) -> datetime:
        """`DtTm` (offset honoured; none means UTC) or `Dt` (midnight UTC)."""
        stamp = self.text(node, "c:DtTm") if node is not None else ""
        day = self.text(node, "c:Dt") if node is not None else ""
        try:
            if stamp:
                parsed = datetime.fromisoformat(stamp)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            if day:
                return datetime.combine(date.fromisoformat(day[:10]), time(), tzinfo=UTC)
        except ValueError as exc:
            raise StatementFileError(line_no, f"the date {stamp or day!r} is not ISO 8601") from exc
        raise StatementFileError(line_no, "the entry has no booking date")


def _status(reader: _Reader, entry: etree._Element) -> str:
    return reader.text(entry, "c:Sts/c:Cd") or reader.text(entry, "c:Sts")


def _reference(reader: _Reader, entry: etree._Element) -> tuple[str, str]:
    """(reference number, discriminator): Wise's reference where the file has one."""
    servicer = reader.text(entry, "c:AcctSvcrRef")
    proprietary = reader.text(entry, "c:BkTxCd/c:Prtry/c:Cd")
    detail = reader.text(entry, "c:NtryDtls/c:TxDtls/c:Refs/c:AcctSvcrRef")
    for candidate in (servicer, proprietary, detail):
        if candidate and is_wise_reference(candidate):
            return candidate, ""
    if servicer or detail:
        return servicer or detail, ""
    return "", f"camt:{proprietary}" if proprietary else ""


def _fee(reader: _Reader, entry: etree._Element) -> Decimal:
    total = reader.one(entry, "c:Chrgs/c:TtlChrgsAndTaxAmt")
    records = reader.all(entry, "c:Chrgs/c:Rcrd/c:Amt") or reader.all(entry, "c:Chrgs/c:Amt")
    nodes = [total] if total is not None else records
    return sum(
        (abs(amount_parse(node.text or "", line_no=node.sourceline, what="charge"))
         for node in nodes),
        Decimal(0),
    )  # fmt: skip


def _counter(reader: _Reader, entry: etree._Element, currency: str):
    instructed = reader.one(entry, "c:NtryDtls/c:TxDtls/c:AmtDtls/c:InstdAmt/c:Amt")
    rate_text = reader.text(entry, "c:NtryDtls/c:TxDtls/c:AmtDtls//c:CcyXchg/c:XchgRate")
    rate = amount_parse(rate_text, line_no=entry.sourceline, what="rate") if rate_text else None
    if instructed is None or instructed.get("Ccy", "") in ("", currency):
        return "", None, rate
    value = amount_parse(instructed.text or "", line_no=instructed.sourceline, what="amount")
    return instructed.get("Ccy", ""), value, rate


def _counterparty(reader: _Reader, entry: etree._Element, credit: bool) -> str:
    party = "c:Dbtr" if credit else "c:Cdtr"
    base = f"c:NtryDtls/c:TxDtls/c:RltdPties/{party}"
    return reader.text(entry, f"{base}/c:Pty/c:Nm") or reader.text(entry, f"{base}/c:Nm")


def _line(reader: _Reader, entry: etree._Element) -> StatementLine:
    line_no = entry.sourceline
    amount, currency = reader.signed_amount(entry, "entry")
    reference, discriminator = _reference(reader, entry)
    remittance = " ".join(
        (node.text or "").strip()
        for node in reader.all(entry, "c:NtryDtls/c:TxDtls/c:RmtInf/c:Ustrd")
    ).strip()
    description = (
        reader.text(entry, "c:AddtlNtryInf")
        or reader.text(entry, "c:NtryDtls/c:TxDtls/c:AddtlTxInf")
        or remittance
    )
    counter_currency, counter_amount, rate = _counter(reader, entry, currency)
    return StatementLine(
        booked_at=reader.moment(reader.one(entry, "c:BookgDt"), line_no),
        amount=amount,
        currency=currency,
        fee=_fee(reader, entry),
        wise_type=wise_type_for(reference),
        description=description,
        counterparty=_counterparty(reader, entry, credit=amount >= 0),
        reference_number=reference,
        payment_reference=remittance,
        counter_currency=counter_currency,
        counter_amount=counter_amount,
        fx_rate=rate,
        direction="DEBIT" if reader.text(entry, "c:CdtDbtInd") == "DBIT" else "CREDIT",
        raw={"file": FORMAT, "line": line_no, "entry": etree.tostring(entry, encoding="unicode")},
        key_discriminator=discriminator,
        line_no=line_no,
    )


def _balance(reader: _Reader, statement: etree._Element, codes: tuple[str, ...]):
    for balance in reader.all(statement, "c:Bal"):
        code = reader.text(balance, "c:Tp/c:CdOrPrtry/c:Cd")
        if code in codes:
            amount, _ = reader.signed_amount(balance, f"{code} balance")
            return amount, balance.sourceline
    return None, None


def parse(data: bytes) -> ParsedStatement:
    root, namespace = _document(data)
    reader = _Reader(namespace)
    statements = reader.all(root, "c:BkToCstmrStmt/c:Stmt")
    if not statements:
        raise StatementFileError(root.sourceline, "the camt.053 document has no <Stmt>")
    lines: list[StatementLine] = []
    first_opening = last_closing = None
    pending = 0
    for statement in statements:
        booked = []
        for entry in reader.all(statement, "c:Ntry"):
            if _status(reader, entry) in ("BOOK", ""):
                booked.append(_line(reader, entry))
            else:
                pending += 1
        opening, _ = _balance(reader, statement, OPENING_CODES)
        closing, closing_line = _balance(reader, statement, ("CLBD",))
        if opening is not None and closing is not None:
            balance_check(opening=opening, closing=closing, lines=booked, line_no=closing_line,
                          currency=reader.text(statement, "c:Acct/c:Ccy"))  # fmt: skip
        if first_opening is None:
            first_opening = opening
        last_closing = closing
        lines.extend(booked)
    return ParsedStatement(
        format=FORMAT,
        lines=lines,
        opening_balance=first_opening,
        closing_balance=last_closing,
        pending_skipped=pending,
    )
