"""SWIFT MT940 customer statements as banks ship them, read with the `mt940` package.

Bulwark cuts the file into statements and fields itself, then hands each field to the
package's tag parsers (`:61:`, the balances, `:25:`, `:20:`, `:28C:`, …). The package
reads a whole text with one regular expression, which real files defeat:

- **Before and between statements** banks put their own lines: Rabobank `:940:`, ABN
  AMRO and bunq `ABNANL2A`/`BUNQNL2A` and `940`, legacy ING `0000 01INGBNL2AXXXX00001`
  and `940 00`, the SWIFT envelope `{1:F01…}{2:…}{3:{108:…}}{4:` … `-}`, ING's `-XXX`,
  and mBank's SOH/ETX bytes (0x01, 0x03) around a message. They are skipped; a BIC they
  name is kept to name a new account.
- **Statements** start at `:20:` (or at `:25:` after a closed statement, for ABN AMRO's
  day statements without one) and must open with `:60F:`/`:60M:` and close with
  `:62F:`/`:62M:`, the closing equal to the opening plus the lines; every balance is in
  the statement's currency.
- **`:86:` text wraps onto lines that look like tags** (a time `T13` + `:12:11`, a
  reference `:26:`…): after a line's `:86:` only `:61:`, `:62F:`/`:62M:`, `:64:`,
  `:65:`, `:86:`, `:NS:` and `:90C:`/`:90D:` start a field, so anything else is text.
  A `:86:` that follows the balances (ING's statement summary) belongs to the statement,
  not to the last line.
- **`:61:` references longer than SWIFT's 16 characters** (ASN and SNS put the
  counterparty's 18-character IBAN there; GLS/Atruvia longer ones before `//`) are read
  with the package's ASN and GLS variants when the standard layout does not fit.
- **`:86:` content** (German GVC subfields, Dutch `/TRTP/…/NAME/…/REMI/`, free text) is
  read by `accounts.statements.details`.

One line per `:61:`, numbered by its file line. The booking (entry) date dates the line
when the `:61:` gives one, else the value date, taken as UTC dates. Wise puts its full
reference number, which the 16 characters of the `:61:` reference cannot hold, on the
`:61:`'s second line (`:61:250107C0,92FMSCNONREF` then `BALANCE_CASHBACK-510151a4-…`).
Lines without a Wise reference key on the bank reference (`//…`) when there is one, else
on a discriminator of their text. The package never logs: a refusal is Bulwark's message.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

import mt940 as mt940_lib

from accounts.lines import StatementLine
from accounts.statements.common import (
    ParsedStatement,
    StatedBalance,
    StatementFileError,
    balance_check,
    control_characters_refuse,
    currency_check,
    day_start,
    is_wise_reference,
    text_decode,
    wise_type_for,
)
from accounts.statements.details import details_read
from treasury.money import UnknownCurrencyError, currency_validate

FORMAT = "mt940"
# The package logs every refused field with its whole regular expression; Bulwark says
# what was refused itself.
logging.getLogger("mt940").setLevel(logging.CRITICAL + 1)

TAG = re.compile(r"^:([0-9A-Z]{2,3}):")  # what looks like a tag; KNOWN_TAGS are SWIFT's
PACKAGE_TAG = re.compile(r"^:(?P<full_tag>(?P<tag>[0-9]{2}|NS)(?P<sub_tag>[A-Z])?):")
KNOWN_TAGS = {
    "13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60", "60F", "60M", "61", "62",
    "62F", "62M", "64", "65", "86", "90C", "90D", "NS",
}  # fmt: skip
AFTER_LINE_TEXT = {"61", "62", "62F", "62M", "64", "65", "86", "NS", "90C", "90D"}
FREE_TEXT = {"86", "NS"}
CLOSING_TAGS = {"62", "62F", "62M"}
BALANCE_TAGS = {"60", "60F", "60M", "62", "62F", "62M", "64", "65"}
ENVELOPE = re.compile(r"^(?:\{[1-5]:|-\}|\}|-$|-XXX$)")
BIC = re.compile(r"\b([A-Z]{4}[A-Z]{2}[A-Z0-9]{2})(?:[A-Z0-9]{3})?\b")
BIC_LINE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
ENVELOPE_BIC = re.compile(r"\{1:F\d\d([A-Z]{6}[A-Z0-9]{2})")
LEGACY_ING_BIC = re.compile(r"^\d{4} \d\d([A-Z]{6}[A-Z0-9]{2})")
ACCOUNT_LIKE = re.compile(r"^(?:[A-Z]{2}\d{2}[A-Z0-9]{10,30}|\d[\d.\s]{6,})$")
OPENINGS = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
CLOSINGS = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")
OPTIONS = mt940_lib.Options.all()  # the fixes the next mt940 major turns on by default


@dataclass
class _Field:
    tag: str
    line_no: int
    lines: list[str]  # the text lines, the first without its tag

    @property
    def value(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Block:
    """One statement's fields, in file order."""

    fields: list[_Field] = field(default_factory=list)
    bank: str = ""
    closed: bool = False  # its closing balance has been read

    @property
    def line_no(self) -> int:
        return self.fields[0].line_no


class _StatementLine(mt940_lib.tags.Statement):
    """`:61:` in SWIFT's layout, else with the package's ASN (34-character customer
    reference) or GLS (any length before `//`) layouts; never logs."""

    variants: ClassVar[list[re.Pattern[str]]] = []

    def parse(self, transactions: Any, value: str) -> dict[str, str | None]:
        for pattern in (self.re, *self.variants):
            match = pattern.match(value)
            if match:
                return match.groupdict()
        raise RuntimeError(f"Unable to parse {value!r}")


_StatementLine.variants = [
    re.compile(tag.pattern, tag.RE_FLAGS)
    for tag in (mt940_lib.tags.StatementASNB, mt940_lib.tags.StatementGLS)
]
_TAGS = {61: _StatementLine()}


class _Statement(mt940_lib.models.Transactions):
    """The package's collection, fed one field at a time; `:86:` is left as written
    (Bulwark reads it), and each field's file line is kept for messages."""

    def __init__(self) -> None:
        super().__init__(processors={"post_transaction_details": []}, tags=_TAGS, options=OPTIONS)
        self.tag_lines: dict[str, int] = {}
        self.statement_text: list[str] = []

    def field_parse(self, item: _Field, *, after: str) -> None:
        if item.tag == "86" and after != "61":
            self.statement_text.append(item.value)  # about the statement, not a line
            return
        data = f":{item.tag}:{item.value}"
        match = PACKAGE_TAG.match(data)
        assert match is not None  # the reader only makes fields of SWIFT tags
        try:
            self._process_match(match, 0, [match], data)
        except (RuntimeError, ArithmeticError, ValueError, KeyError, TypeError) as exc:
            raise StatementFileError(
                item.line_no, f"the :{item.tag}: field cannot be read: {item.lines[0][:80]!r}"
            ) from exc
        self.tag_lines.setdefault(item.tag, item.line_no)
        if item.tag == "61":
            self.transactions[-1].data.update(line_no=item.line_no, raw_61=item.value)
        elif item.tag == "86" and self.transactions:
            self.transactions[-1].data.setdefault("lines_86", []).extend(item.lines)


def _framing_strip(line: str) -> str:
    """mBank frames a message with SOH (0x01) and ETX (0x03); they carry nothing."""
    return line.strip("\x01\x03").rstrip()


def _header_bank(line: str) -> str:
    for pattern in (ENVELOPE_BIC, LEGACY_ING_BIC):
        match = pattern.search(line)
        if match:
            return match.group(1)
    return line if BIC_LINE.match(line) else ""


def _blocks(text: str) -> list[_Block]:
    """The file's statements: header and envelope lines dropped, fields cut."""
    blocks: list[_Block] = []
    block: _Block | None = None
    current: _Field | None = None
    bank, last_line_tag = "", ""
    pending_colon = False
    for line_no, raw in enumerate(text.split("\n"), 1):
        line = _framing_strip(raw)
        if pending_colon:  # a tag wrapped after its first colon (`:` then `86:…`)
            line, pending_colon = f":{line}", False
        if line == ":":
            pending_colon = True
            continue
        if not line.strip():
            continue
        if ENVELOPE.match(line.strip()):
            bank = _header_bank(line) or bank
            current = None
            if block is not None:
                block.closed = True
            continue
        tag_match = TAG.match(line)
        tag = tag_match.group(1) if tag_match else None
        in_line_text = current is not None and current.tag in FREE_TEXT and last_line_tag == "61"
        if tag is not None and in_line_text and tag not in AFTER_LINE_TEXT:
            tag = None  # wrapped text that happens to start like a tag
        if tag is not None and tag not in KNOWN_TAGS and (block is None or block.closed):
            tag = None  # a bank's header line (Rabobank's `:940:`)
        if tag is None:
            # Outside a statement, or after its balances: a bank's header line.
            if current is None or (block is not None and block.closed
                                   and current.tag in BALANCE_TAGS):  # fmt: skip
                bank = _header_bank(line.strip()) or bank
                continue
            current.lines.append(line)  # the field goes on
            continue
        if tag not in KNOWN_TAGS:
            raise StatementFileError(line_no, f"{tag_match.group(0)!r} is not an MT940 tag")
        starts = tag == "20" or (tag == "25" and (block is None or block.closed))
        if starts:
            block = _Block(bank=bank)
            blocks.append(block)
            last_line_tag = ""
        elif block is None or (block.closed and tag not in BALANCE_TAGS | FREE_TEXT):
            raise StatementFileError(
                line_no, "an MT940 statement starts with a :20: tag; this line comes before one"
            )
        current = _Field(tag, line_no, [line[tag_match.end() :]])
        block.fields.append(current)
        if tag not in FREE_TEXT:
            last_line_tag = tag
        if tag in CLOSING_TAGS:
            block.closed = True
    if not blocks:
        raise StatementFileError(None, "the file holds no MT940 statement (no :20: tag)")
    return blocks


def _balance(statement: _Statement, keys: tuple[str, ...]) -> tuple[str, Any] | None:
    return next(((key, statement.data[key]) for key in keys if key in statement.data), None)


TAG_OF = {
    "final_opening_balance": "60F", "intermediate_opening_balance": "60M",
    "opening_balance": "60", "final_closing_balance": "62F",
    "intermediate_closing_balance": "62M", "closing_balance": "62",
}  # fmt: skip


def _line(transaction: dict[str, Any], currency: str) -> StatementLine:
    line_no = transaction["line_no"]
    extra = (transaction.get("extra_details") or "").strip().split("\n")[0].strip()
    bank_reference = (transaction.get("bank_reference") or "").strip()
    customer_reference = (transaction.get("customer_reference") or "").strip()
    details = details_read(transaction.get("lines_86") or [])
    # The customer reference is the payer's text (`INV-77`), never the bank's key; ASN,
    # SNS and old Rabobank files put the counterparty's account there and its name on
    # the second line.
    wise = [ref for ref in (extra, bank_reference) if is_wise_reference(ref)]
    reference = wise[0] if wise else bank_reference
    counter_account, name = details.counterparty_account, details.counterparty
    payment_reference = details.payment_reference
    reference_is_account = bool(ACCOUNT_LIKE.match(customer_reference.replace(" ", "")))
    if customer_reference.upper() not in ("", "NONREF"):
        if reference_is_account:
            counter_account = counter_account or customer_reference
        elif not payment_reference:
            payment_reference = customer_reference
    if not wise and extra and not extra.startswith("/"):
        if ACCOUNT_LIKE.match(extra.replace(" ", "")):
            counter_account = counter_account or extra
        elif reference_is_account:  # the account's holder, after its number
            name = name or " ".join(extra.split())
    amount = transaction["amount"].amount
    value_day: date = transaction["date"]
    booked: date = transaction.get("entry_date") or value_day
    return StatementLine(
        booked_at=day_start(booked),
        amount=amount,
        currency=currency,
        wise_type=wise_type_for(reference),
        description=details.description,
        counterparty=name,
        reference_number=reference,
        payment_reference=payment_reference,
        direction="DEBIT" if amount < 0 else "CREDIT",
        raw={
            "file": FORMAT,
            "line": line_no,
            "61": transaction["raw_61"],
            "86": "\n".join(transaction.get("lines_86") or []),
            "code": transaction.get("id") or "",
            "customer_reference": customer_reference,
            "bank_reference": bank_reference,
            "supplementary": extra,
            "value_date": value_day,
            "entry_date": booked,
            "counterparty_account": counter_account,
            **({"details": details.fields} if details.fields else {}),
        },
        line_no=line_no,
    )


def _stated(statement: _Statement, keys: tuple[str, ...], currency: str, what: str):
    found = _balance(statement, keys)
    if found is None:
        return None
    key, balance = found
    line_no = statement.tag_lines.get(TAG_OF[key])
    currency_check(stated=balance.amount.currency or "", expected=currency, line_no=line_no,
                   what=f"{what} (:{TAG_OF[key]}:)")  # fmt: skip
    return StatedBalance(amount=balance.amount.amount, on=balance.date, line_no=line_no)


def _statement_parse(block: _Block) -> ParsedStatement:
    statement = _Statement()
    after = ""
    for item in block.fields:
        statement.field_parse(item, after=after)
        if item.tag not in FREE_TEXT:
            after = item.tag
    found = _balance(statement, OPENINGS)
    if found is None:
        raise StatementFileError(block.line_no, "the statement has no opening balance (:60F:)")
    opening_tag = TAG_OF[found[0]]
    try:
        currency = currency_validate(found[1].amount.currency or "")
    except UnknownCurrencyError as exc:
        raise StatementFileError(statement.tag_lines.get(opening_tag), str(exc)) from exc
    opening = _stated(statement, OPENINGS, currency, "opening balance")
    closing = _stated(statement, CLOSINGS, currency, "closing balance")
    if closing is None:
        raise StatementFileError(
            block.fields[-1].line_no,
            "the statement has no closing balance (:62F:); is the file cut short?",
        )
    for key, tag in (("available_balance", "64"), ("forward_available_balance", "65")):
        if key in statement.data:
            stated = statement.data[key].amount.currency or ""
            currency_check(stated=stated, expected=currency, what=f"balance :{tag}:",
                           line_no=statement.tag_lines.get(tag))  # fmt: skip
    lines = [_line(transaction.data, currency) for transaction in statement.transactions]
    balance_check(opening=opening.amount, closing=closing.amount, lines=lines,
                  line_no=closing.line_no, currency=currency)  # fmt: skip
    account = next((item.value.strip() for item in block.fields if item.tag in ("25", "25P")), "")
    references = [item.value.strip() for item in block.fields if item.tag in ("20", "28", "28C")]
    return ParsedStatement(
        lines=lines,
        currency=currency,
        account_id=account,
        opening=opening,
        closing=closing,
        reference=" ".join(references),
        bank=block.bank or _bank_in(account),
        line_no=block.line_no,
        extra={"86": statement.statement_text} if statement.statement_text else {},
    )


def _bank_in(account: str) -> str:
    """`INGBNL2A/NL…` names its bank in front of the account."""
    head = account.split("/", 1)[0] if "/" in account else ""
    match = BIC.fullmatch(head)
    return match.group(1) if match else ""


def parse(data: bytes) -> list[ParsedStatement]:
    text = text_decode(data).replace("\r\n", "\n").replace("\r", "\n")
    control_characters_refuse(re.sub(r"(?m)^[\x01\x03]+|[\x01\x03]+$", "", text))
    return [_statement_parse(block) for block in _blocks(text)]
