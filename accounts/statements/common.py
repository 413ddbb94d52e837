"""What every statement-file parser shares: the parsed result, the file-level error, Wise
reference numbers, decoding, and the steps that make a file's lines key like the API's."""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from accounts.lines import StatementLine, StatementLineError, discriminator_for
from treasury.money import decimal_parse

# Wise's reference numbers: a prefix naming the kind, a dash, an id (`TRANSFER-123456`,
# `CARD-99`, `BALANCE-5`, `BALANCE_CASHBACK-510151a4-…`, `FEE-CARD-7`).
WISE_REFERENCE = re.compile(r"^[A-Z][A-Z_]*(?:-[A-Z][A-Z_]*)*-[0-9A-Za-z][0-9A-Za-z-]*$")
FEE_PREFIX = "FEE-"

# The Wise detail type a reference prefix implies, for formats that carry no type.
TYPE_BY_PREFIX = {"CARD": "CARD", "TRANSFER": "TRANSFER", "BALANCE": "CONVERSION"}


class StatementFileError(StatementLineError):
    """A statement file that cannot be imported; names the line when there is one."""


@dataclass(frozen=True)
class ParsedStatement:
    """Every line of a file, parsed before anything is stored."""

    format: str
    lines: list[StatementLine]
    opening_balance: Decimal | None = None  # before the file's first line, when stated
    closing_balance: Decimal | None = None
    pending_skipped: int = 0  # entries the file lists as not yet booked


def is_wise_reference(text: str) -> bool:
    return bool(WISE_REFERENCE.match(text.strip()))


def wise_type_for(reference: str) -> str:
    prefix = reference.split("-", 1)[0] if reference else ""
    return TYPE_BY_PREFIX.get(prefix, "UNKNOWN")


def text_decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252; else refused."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise StatementFileError(
            None, "the file is not text (neither UTF-8 nor Windows-1252)"
        ) from exc


def amount_parse(text: str, *, line_no: int | None, what: str = "amount") -> Decimal:
    try:
        return decimal_parse(text)
    except ValueError as exc:
        raise StatementFileError(line_no, f"the {what} {text.strip()!r} is not a number") from exc


def balance_check(*, opening: Decimal, closing: Decimal, lines: Sequence[StatementLine],
                  line_no: int | None, currency: str = "") -> None:  # fmt: skip
    """A statement's closing balance must be its opening plus its lines, to the cent."""
    expected = opening + sum((line.amount for line in lines), Decimal(0))
    if expected != closing:
        unit = f" {currency}" if currency else ""
        raise StatementFileError(
            line_no,
            f"the closing balance {closing}{unit} is not the opening balance {opening}{unit} "
            f"plus the lines ({expected}{unit}); the file is incomplete or altered",
        )


def fees_fold(lines: Sequence[StatementLine]) -> list[StatementLine]:
    """Put `FEE-<ref>` lines back inside their `<ref>` line, as Wise's API reports them.

    A statement laid out with fees on their own lines (Wise's FLAT type, and CSV exports
    that list `FEE-CARD-…` rows) would otherwise key differently from the API's single
    line with the fee inside the amount, and an overlap would store the fee twice. A fee
    line whose payment is not in the file stays a line of its own.
    """
    by_reference: dict[tuple[str, str, object], int] = {}
    for index, line in enumerate(lines):
        if line.reference_number and not line.reference_number.startswith(FEE_PREFIX):
            key = (line.reference_number, line.resolved_direction, line.booked_on)
            by_reference.setdefault(key, index)
    merged = list(lines)
    folded: set[int] = set()
    for index, fee_line in enumerate(lines):
        reference = fee_line.reference_number
        if not reference.startswith(FEE_PREFIX):
            continue
        key = (reference[len(FEE_PREFIX) :], fee_line.resolved_direction, fee_line.booked_on)
        target = by_reference.get(key)
        if target is None:
            continue
        payment = merged[target]
        merged[target] = replace(
            payment,
            amount=payment.amount + fee_line.amount,
            fee=payment.fee or abs(fee_line.amount),
            running_balance=_balance_after_both(payment, fee_line),
            raw={**payment.raw, "fee_line": dict(fee_line.raw)},
        )
        folded.add(index)
    return [line for index, line in enumerate(merged) if index not in folded]


def _balance_after_both(first: StatementLine, second: StatementLine) -> Decimal | None:
    """The running balance of whichever of the two lines was booked after the other."""
    if first.running_balance is None or second.running_balance is None:
        return None
    if first.running_balance + second.amount == second.running_balance:
        return second.running_balance
    if second.running_balance + first.amount == first.running_balance:
        return first.running_balance
    return None


def discriminators_assign(lines: Sequence[StatementLine]) -> list[StatementLine]:
    """Give lines without a reference number a stable discriminator for their key.

    Such lines (from banks, or Wise entries without a reference) key on the day, the
    amount and a hash of their text plus its occurrence that day, so the same file, or
    another covering the same days, imports them once.
    """
    seen: Counter[tuple[object, Decimal, str]] = Counter()
    result = []
    for line in lines:
        if line.reference_number or line.key_discriminator:
            result.append(line)
            continue
        text = " ".join(filter(None, (line.description, line.payment_reference, line.counterparty)))
        slot = (line.booked_on, line.amount, text.strip().lower())
        seen[slot] += 1
        result.append(replace(line, key_discriminator=discriminator_for(text, seen[slot])))
    return result
