"""CAMT.053 (ISO 20022 BankToCustomerStatement) XML, camt.053.001.02 and every later
version (Swiss and German banks write .02 to .08, Wise .10).

Each `<Stmt>` is one account's statement: `Acct/Id/IBAN` (or `Acct/Id/Othr/Id`) and
`Acct/Ccy` name the account, `Acct/Svcr/FinInstnId` its bank; a file may hold several
(several accounts, or several days of one). One line per booked `<Ntry>` (pending and
informational entries are counted, not stored). Read per entry: `Amt`/`@Ccy` and
`CdtDbtInd` (the sign), `BookgDt` (`DtTm` with its offset, or `Dt`; the UTC date keys the
line), the reference (`AcctSvcrRef`, else a Wise reference in `BkTxCd/Prtry/Cd`, where
Wise's own files put it, else `TxDtls/Refs/AcctSvcrRef`), charges (`Chrgs`,
informational: Wise's amount has the fee inside), `AddtlNtryInf` or `RmtInf/Ustrd` for
the text (`RmtInf/Strd/CdtrRefInf/Ref` as the reference when there is no `Ustrd`),
`RltdPties` for the counterparty and `AmtDtls/InstdAmt` with `CcyXchg` for the other side
of a conversion. Balances: `OPBD` (or `PRCD`, or the first `ITBD`) opens and `CLBD` (or
the last `ITBD`) closes each `<Stmt>`; every balance is in the statement's currency.

Errors name the line and column of the element, so a file written on one line still
points at the entry. Parsed safely: no DTD, no entities, no network (a DOCTYPE is refused
outright).
"""

import re
import xml.parsers.expat
from datetime import UTC, date, datetime, time
from decimal import Decimal

from lxml import etree

from accounts.lines import StatementLine
from accounts.statements.common import (
    ParsedStatement,
    StatedBalance,
    StatementFileError,
    amount_parse,
    balance_check,
    currency_check,
    is_wise_reference,
    wise_type_for,
)
from treasury.money import UnknownCurrencyError, currency_validate

FORMAT = "camt053"
NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d{2})$")
OPENING_CODES = ("OPBD", "PRCD")
INTERIM = "ITBD"
# Elements whose position an error may name.
PLACED = {"Stmt", "Ntry", "Bal", "Amt", "Acct", "Ccy", "BookgDt", "Document", "XchgRate"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip


class _Positions:
    """Line and column of elements, which lxml does not give (only the line): read once
    with expat, which reports both, in the same document order as lxml's tree."""

    def __init__(self, data: bytes, root: etree._Element) -> None:
        self.places: dict[etree._Element, tuple[int, int]] = {}
        starts: list[tuple[int, int]] = []
        parser = xml.parsers.expat.ParserCreate()
        parser.StartElementHandler = lambda name, attrs: starts.append(
            (parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        )
        try:
            parser.Parse(data, True)
        except (xml.parsers.expat.ExpatError, ValueError, LookupError):
            return  # an encoding expat does not read: lines only
        elements = root.getroottree().getroot().iter(etree.Element)
        for element, place in zip(elements, starts, strict=False):
            if etree.QName(element).localname in PLACED:
                self.places[element] = place

    def of(self, node: etree._Element | None) -> tuple[int | None, int | None]:
        if node is None:
            return None, None
        line, column = self.places.get(node, (node.sourceline, None))
        return line, column


def _document(data: bytes) -> tuple[etree._Element, str, _Positions]:
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        reason = re.sub(r", line \d+, column \d+$", "", exc.msg)
        line, column = exc.position if exc.position else (exc.lineno, None)
        raise StatementFileError(
            line, f"the XML is not well-formed ({reason})", column=column
        ) from exc
    if root.getroottree().docinfo.doctype:
        raise StatementFileError(1, "the XML declares a DOCTYPE, which a statement never needs")
    positions = _Positions(data, root)
    if etree.QName(root).localname != "Document":  # a business application header around it
        root = next(root.iter("{*}Document"), root)
    namespace = etree.QName(root).namespace or ""
    match = NAMESPACE.match(namespace)
    line, column = positions.of(root)
    if etree.QName(root).localname != "Document" or match is None:
        raise StatementFileError(
            line, "this XML is not an ISO 20022 camt.053 statement", column=column
        )
    if match.group(1) != "camt.053":
        raise StatementFileError(
            line,
            f"this is a {match.group(1)} message; only camt.053 account statements are imported",
            column=column,
        )
    return root, namespace, positions


class _Reader:
    """Element paths with the document's namespace bound to `c:`, and positions."""

    def __init__(self, namespace: str, positions: _Positions) -> None:
        self.ns = {"c": namespace}
        self.positions = positions

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return node.findall(path, namespaces=self.ns)

    def one(self, node: etree._Element, path: str) -> etree._Element | None:
        return node.find(path, namespaces=self.ns)

    def text(self, node: etree._Element, path: str) -> str:
        return (node.findtext(path, default="", namespaces=self.ns) or "").strip()

    def error(self, node: etree._Element | None, message: str) -> StatementFileError:
        line, column = self.positions.of(node)
        return StatementFileError(line, message, column=column)

    def amount(self, node: etree._Element, what: str) -> Decimal:
        line, column = self.positions.of(node)
        return amount_parse(node.text or "", line_no=line, what=what, column=column)

    def signed_amount(self, node: etree._Element, what: str) -> tuple[Decimal, str]:
        amount_node = self.one(node, "c:Amt")
        if amount_node is None:
            raise self.error(node, f"the {what} has no <Amt>")
        value = self.amount(amount_node, what)
        indicator = self.text(node, "c:CdtDbtInd")
        if indicator not in ("CRDT", "DBIT"):
            raise self.error(node, f"the {what} has no credit/debit indicator (CRDT or DBIT)")
        return (-value if indicator == "DBIT" else value), amount_node.get("Ccy", "")

    def moment(self, node: etree._Element | None, at: etree._Element) -> tuple[datetime, bool]:
        """`DtTm` (offset honoured; none means UTC) or `Dt` (midnight UTC); and whether
        the time was given."""
        stamp = self.text(node, "c:DtTm") if node is not None else ""
        day = self.text(node, "c:Dt") if node is not None else ""
        try:
            if stamp:
                parsed = datetime.fromisoformat(stamp)
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), True
            if day:
                return datetime.combine(date.fromisoformat(day[:10]), time(), tzinfo=UTC), False
        except ValueError as exc:
            raise self.error(at, f"the date {stamp or day!r} is not ISO 8601") from exc
        raise self.error(at, "the entry has no booking date")


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
    return sum((abs(reader.amount(node, "charge")) for node in nodes), Decimal(0))


def _counter(reader: _Reader, entry: etree._Element, currency: str):
    instructed = reader.one(entry, "c:NtryDtls/c:TxDtls/c:AmtDtls/c:InstdAmt/c:Amt")
    rate_node = reader.one(entry, "c:NtryDtls/c:TxDtls/c:AmtDtls//c:CcyXchg/c:XchgRate")
    rate = reader.amount(rate_node, "rate") if rate_node is not None else None
    if instructed is None or instructed.get("Ccy", "") in ("", currency):
        return "", None, rate
    return instructed.get("Ccy", ""), reader.amount(instructed, "amount"), rate


def _counterparty(reader: _Reader, entry: etree._Element, credit: bool) -> str:
    party = "c:Dbtr" if credit else "c:Cdtr"
    base = f"c:NtryDtls/c:TxDtls/c:RltdPties/{party}"
    return reader.text(entry, f"{base}/c:Pty/c:Nm") or reader.text(entry, f"{base}/c:Nm")


def _line(reader: _Reader, entry: etree._Element, currency: str) -> tuple[StatementLine, bool]:
    line_no, column = reader.positions.of(entry)
    amount, entry_currency = reader.signed_amount(entry, "entry")
    reference, discriminator = _reference(reader, entry)
    remittance = " ".join(
        (node.text or "").strip()
        for node in reader.all(entry, "c:NtryDtls/c:TxDtls/c:RmtInf/c:Ustrd")
    ).strip() or reader.text(entry, "c:NtryDtls/c:TxDtls/c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref")
    description = (
        reader.text(entry, "c:AddtlNtryInf")
        or reader.text(entry, "c:NtryDtls/c:TxDtls/c:AddtlTxInf")
        or remittance
    )
    counter_currency, counter_amount, rate = _counter(reader, entry, entry_currency)
    booked_at, timed = reader.moment(reader.one(entry, "c:BookgDt"), entry)
    line = StatementLine(
        booked_at=booked_at,
        amount=amount,
        currency=entry_currency or currency,
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
        column=column,
    )
    return line, timed


def _balances(reader: _Reader, statement: etree._Element, currency: str):
    """(opening, closing) as stated, each with its position."""
    found: dict[str, list[StatedBalance]] = {}
    for balance in reader.all(statement, "c:Bal"):
        code = reader.text(balance, "c:Tp/c:CdOrPrtry/c:Cd")
        amount, stated_currency = reader.signed_amount(balance, f"{code or 'balance'} balance")
        line_no, column = reader.positions.of(balance)
        currency_check(stated=stated_currency, expected=currency, line_no=line_no,
                       column=column, what=f"{code} balance")  # fmt: skip
        moment, timed = reader.moment(reader.one(balance, "c:Dt"), balance)
        found.setdefault(code, []).append(
            StatedBalance(amount=amount, on=moment.astimezone(UTC).date(),
                          at=moment if timed else None, line_no=line_no, column=column)
        )  # fmt: skip
    interim = found.get(INTERIM, [])
    opening = next((found[code][0] for code in OPENING_CODES if code in found), None)
    closing = found["CLBD"][-1] if "CLBD" in found else None
    if opening is None and interim and (closing is not None or len(interim) > 1):
        opening = interim[0]
    if closing is None and interim and (opening is not interim[-1]):
        closing = interim[-1]
    return opening, closing


def _currency(reader: _Reader, statement: etree._Element) -> str:
    node = reader.one(statement, "c:Acct/c:Ccy")
    stated = (node.text or "") if node is not None else ""
    if node is None:  # optional: then the balances' or the first entry's currency
        for path in ("c:Bal/c:Amt", "c:Ntry/c:Amt"):
            node = reader.one(statement, path)
            if node is not None:
                stated = node.get("Ccy", "")
                break
    try:
        return currency_validate(stated)
    except UnknownCurrencyError as exc:
        raise reader.error(statement if node is None else node, str(exc)) from exc


def _statement(reader: _Reader, statement: etree._Element) -> ParsedStatement:
    currency = _currency(reader, statement)
    lines, pending, all_timed = [], 0, True
    for entry in reader.all(statement, "c:Ntry"):
        if _status(reader, entry) in ("BOOK", ""):
            line, timed = _line(reader, entry, currency)
            lines.append(line)
            all_timed = all_timed and timed
        else:
            pending += 1
    opening, closing = _balances(reader, statement, currency)
    if opening is not None and closing is not None:
        balance_check(
            opening=opening.amount, closing=closing.amount, lines=lines,
            line_no=closing.line_no, column=closing.column, currency=currency,
        )  # fmt: skip
    period_start = reader.text(statement, "c:FrToDt/c:FrDtTm")
    period_end = reader.text(statement, "c:FrToDt/c:ToDtTm")
    if opening is not None and opening.at is None and period_start and all_timed:
        opening = _at(reader, statement, opening, period_start)
    if closing is not None and closing.at is None and period_end and all_timed:
        closing = _at(reader, statement, closing, period_end)
    identifier = reader.text(statement, "c:Acct/c:Id/c:IBAN") or reader.text(
        statement, "c:Acct/c:Id/c:Othr/c:Id"
    )
    bank = (
        reader.text(statement, "c:Acct/c:Svcr/c:FinInstnId/c:BICFI")
        or reader.text(statement, "c:Acct/c:Svcr/c:FinInstnId/c:BIC")
        or reader.text(statement, "c:Acct/c:Svcr/c:FinInstnId/c:Nm")
    )
    line_no, column = reader.positions.of(statement)
    reference = " ".join(
        filter(None, (reader.text(statement, "c:Id"), reader.text(statement, "c:ElctrncSeqNb")))
    )
    return ParsedStatement(
        lines=lines,
        currency=currency,
        account_id=identifier,
        opening=opening,
        closing=closing,
        timed=bool(lines) and all_timed,
        reference=reference,
        bank=bank,
        line_no=line_no,
        column=column,
        pending_skipped=pending,
    )


def _at(reader: _Reader, node: etree._Element, balance: StatedBalance,
        stamp: str) -> StatedBalance:  # fmt: skip
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise reader.error(node, f"the date {stamp!r} is not ISO 8601") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return StatedBalance(amount=balance.amount, on=balance.on, at=moment,
                         line_no=balance.line_no, column=balance.column)  # fmt: skip


def parse(data: bytes) -> list[ParsedStatement]:
    root, namespace, positions = _document(data)
    reader = _Reader(namespace, positions)
    statements = reader.all(root, "c:BkToCstmrStmt/c:Stmt")
    if not statements:
        raise reader.error(root, "the camt.053 document has no <Stmt>")
    return [_statement(reader, statement) for statement in statements]
