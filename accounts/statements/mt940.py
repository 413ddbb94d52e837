"""SWIFT MT940 customer statements, read with the `mt940` package.

One line per `:61:`, numbered by the file line its tag is on. The `:61:` gives the value
date (taken as the UTC booking date), the debit/credit mark and the amount; `:86:` the
text. Wise's own MT940 files put the full reference number, which the 16 characters of
the `:61:` reference cannot hold, on the `:61:`'s second line (supplementary details),
e.g. `:61:250107C0,92FMSCNONREF` then `BALANCE_CASHBACK-510151a4-…`; Bulwark's renderer
does the same. Lines without a Wise reference key on the bank reference (`//…`) when there
is one, else on a discriminator of their text.

Each statement (from `:20:`) must open with `:60F:`/`:60M:` and close with `:62F:`/`:62M:`,
and its closing must equal its opening plus its lines. Tags must be SWIFT's; the SWIFT
envelope (`{1:…}{2:…}{4:` … `-}`) is allowed around them.
"""

import re
from bisect import bisect_right
from datetime import UTC, date, datetime, time
from itertools import accumulate
from typing import Any

import mt940 as mt940_lib

from accounts.lines import StatementLine
from accounts.statements.common import (
    ParsedStatement,
    StatementFileError,
    balance_check,
    is_wise_reference,
    text_decode,
    wise_type_for,
)

FORMAT = "mt940"
TAG = re.compile(r"^:([0-9A-Z]{2,3}):")
KNOWN_TAGS = {
    "13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60", "60F", "60M", "61", "62",
    "62F", "62M", "64", "65", "86", "90C", "90D", "NS",
}  # fmt: skip
ENVELOPE = re.compile(r"^(\{[0-9]:[^}]*\}?)+$|^-\}|^\}$")
OPENINGS = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
CLOSINGS = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")
# Structured `:86:` as many banks write it: `/TRTP/…/NAME/…/REMI/…/`.
STRUCTURED = re.compile(r"/([A-Z]{2,4})/(.*?)(?=/[A-Z]{2,4}/|/?$)")
OPTIONS = mt940_lib.Options.all()  # the fixes the next mt940 major turns on by default


class _Statement(mt940_lib.models.Transactions):
    """mt940's collection, taught which file line each tag came from."""

    def __init__(self, block: list[tuple[int, str]]) -> None:
        super().__init__(options=OPTIONS)
        self.line_numbers = [line_no for line_no, _ in block]  # file line of each text line
        self.line_starts = list(accumulate((len(text) + 1 for _, text in block[:-1]), initial=0))
        self.tag_lines: dict[str, int] = {}

    def _process_match(self, match: re.Match[str], i: int, valid_matches: list[re.Match[str]],
                       data: str) -> None:  # fmt: skip
        line_no = self.line_numbers[bisect_right(self.line_starts, match.start()) - 1]
        tag = match.group("full_tag")
        end = valid_matches[i + 1].start() if i + 1 < len(valid_matches) else len(data)
        value = data[match.end() : end].strip()
        try:
            super()._process_match(match, i, valid_matches, data)
        except (RuntimeError, ArithmeticError, ValueError, KeyError, TypeError) as exc:
            first_line = value.split("\n")[0]
            raise StatementFileError(
                line_no, f"the :{tag}: field cannot be read: {first_line!r}"
            ) from exc
        self.tag_lines.setdefault(tag, line_no)
        if tag == "61":
            self.transactions[-1].data.update(line_no=line_no, raw_61=value)


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """The file's statements as (file line, text) lists, each starting at `:20:`."""
    blocks: list[list[tuple[int, str]]] = []
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or line.strip() == "-" or ENVELOPE.match(line.strip()):
            continue
        tag = TAG.match(line)
        if line.startswith(":") and (tag is None or tag.group(1) not in KNOWN_TAGS):
            shown = tag.group(0) if tag else line[:8]
            raise StatementFileError(line_no, f"{shown!r} is not an MT940 tag")
        if tag and tag.group(1) == "20":
            blocks.append([])
        if not blocks:
            raise StatementFileError(
                line_no, "an MT940 statement starts with a :20: tag; this line comes before one"
            )
        blocks[-1].append((line_no, line))
    if not blocks:
        raise StatementFileError(None, "the file holds no MT940 statement (no :20: tag)")
    return blocks


def _balance(statement: _Statement, keys: tuple[str, ...]) -> Any:
    return next((statement.data[key] for key in keys if key in statement.data), None)


def _line(transaction: dict[str, Any], currency: str) -> StatementLine:
    line_no = transaction["line_no"]
    extra = (transaction.get("extra_details") or "").strip().split("\n")[0].strip()
    bank_reference = (transaction.get("bank_reference") or "").strip()
    customer_reference = (transaction.get("customer_reference") or "").strip()
    # The customer reference is the payer's text (`INV-77`), never the bank's key.
    wise = [ref for ref in (extra, bank_reference) if is_wise_reference(ref)]
    reference = wise[0] if wise else bank_reference
    details = transaction.get("transaction_details") or ""
    description = " ".join(part.strip() for part in details.splitlines() if part.strip())
    structured = dict(STRUCTURED.findall(description)) if description.startswith("/") else {}
    if customer_reference != "NONREF":
        structured.setdefault("REMI", customer_reference)
    amount = transaction["amount"].amount
    day: date = transaction["date"]
    return StatementLine(
        booked_at=datetime.combine(day, time(), tzinfo=UTC),
        amount=amount,
        currency=currency,
        wise_type=wise_type_for(reference),
        description=description,
        counterparty=structured.get("NAME", "").strip(),
        reference_number=reference,
        payment_reference=structured.get("REMI", "").strip(),
        direction="DEBIT" if amount < 0 else "CREDIT",
        raw={
            "file": FORMAT,
            "line": line_no,
            "61": transaction["raw_61"],
            "86": details,
            "code": transaction.get("id") or "",
            "customer_reference": customer_reference,
            "bank_reference": bank_reference,
            "supplementary": extra,
        },
        line_no=line_no,
    )


def _statement_parse(block: list[tuple[int, str]]) -> tuple[_Statement, list[StatementLine]]:
    statement = _Statement(block)
    statement.parse("\n".join(text for _, text in block))
    start = block[0][0]
    opening = _balance(statement, OPENINGS)
    closing = _balance(statement, CLOSINGS)
    if opening is None:
        raise StatementFileError(start, "the statement has no opening balance (:60F:)")
    if closing is None:
        raise StatementFileError(
            block[-1][0], "the statement has no closing balance (:62F:); is the file cut short?"
        )
    currency = (opening.amount.currency or "").strip()
    lines = [_line(transaction.data, currency) for transaction in statement.transactions]
    closing_line = statement.tag_lines.get("62F") or statement.tag_lines.get("62M")
    balance_check(opening=opening.amount.amount, closing=closing.amount.amount, lines=lines,
                  line_no=closing_line, currency=currency)  # fmt: skip
    return statement, lines


def parse(data: bytes) -> ParsedStatement:
    lines: list[StatementLine] = []
    openings, closings = [], []
    for block in _blocks(text_decode(data)):
        statement, block_lines = _statement_parse(block)
        openings.append(_balance(statement, OPENINGS).amount.amount)
        closings.append(_balance(statement, CLOSINGS).amount.amount)
        lines.extend(block_lines)
    return ParsedStatement(
        format=FORMAT, lines=lines, opening_balance=openings[0], closing_balance=closings[-1]
    )
