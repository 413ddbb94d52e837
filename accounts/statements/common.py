"""What every statement-file parser shares: the file-level error, what a file states
(`ParsedStatement`: one account's statement for one period), Wise reference numbers,
decoding, the limits on amounts and text, and the steps that make a file's lines key like
the API's."""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from accounts.lines import StatementLine, StatementLineError, discriminator_for

# Wise's reference numbers: a prefix naming the kind, a dash, an id (`TRANSFER-123456`,
# `CARD-99`, `BALANCE-5`, `BALANCE_CASHBACK-510151a4-…`, `FEE-CARD-7`).
WISE_REFERENCE = re.compile(r"^[A-Z][A-Z_]*(?:-[A-Z][A-Z_]*)*-[0-9A-Za-z][0-9A-Za-z-]*$")
FEE_PREFIX = "FEE-"

# The Wise detail type a reference prefix implies, for formats that carry no type.
TYPE_BY_PREFIX = {"CARD": "CARD", "TRANSFER": "TRANSFER", "BALANCE": "CONVERSION"}

# An amount as statements write it: digits with an optional decimal point, optionally
# signed. No exponents (`1e9999`), no grouping, no `NaN` or `Infinity`.
AMOUNT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
# Every amount is stored as integer minor units in a 64-bit column; 18 digits always fit.
MAX_DIGITS = 18
# C0 and C1 control characters other than tab, line feed and carriage return.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class StatementFileError(StatementLineError):
    """A statement file that cannot be imported; names the line when there is one."""


@dataclass(frozen=True)
class StatedBalance:
    """A balance a statement states (opening or closing), where the file says it."""

    amount: Decimal
    on: date  # the balance's date
    at: datetime | None = None  # its instant, when the file gives one
    line_no: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class ParsedStatement:
    """One statement of a file: one account, one period, its lines, its balances.

    `account_id` is the account as the file names it (IBAN, bank account number, `:25:`
    as written; empty when the format names none, like Wise's CSV). `timed` says the
    lines carry real times (Wise CSV and CAMT with `DtTm`), not dates at midnight.
    """

    lines: list[StatementLine]
    currency: str
    account_id: str = ""
    opening: StatedBalance | None = None
    closing: StatedBalance | None = None
    timed: bool = False
    reference: str = ""  # the statement's own reference (`:20:`/`:28C:`, `<Stmt><Id>`)
    bank: str = ""  # BIC or the servicer's name, to name a new account
    line_no: int | None = None  # where the statement starts in the file
    column: int | None = None
    pending_skipped: int = 0  # entries the statement lists as not yet booked
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_day(self) -> date | None:
        days = [line.booked_on for line in self.lines]
        return min(days, default=self.opening.on if self.opening else None)

    @property
    def last_day(self) -> date | None:
        days = [line.booked_on for line in self.lines]
        return max(days, default=self.closing.on if self.closing else None)


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


def control_characters_refuse(text: str) -> None:
    """Refuse text holding control characters (NUL, escape, …), naming where: they have no
    place in a statement and would enter the immutable record (PostgreSQL refuses NUL)."""
    found = CONTROL.search(text)
    if found is None:
        return
    line_no = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    raise StatementFileError(
        line_no,
        f"the file holds a control character (0x{ord(found.group()):02X}), which no "
        "statement contains; is it the right file?",
        column=column,
    )


def amount_parse(
    text: str, *, line_no: int | None, what: str = "amount", column: int | None = None
) -> Decimal:
    """An amount as written (`-111.23`, `+0.5`, `000000001000.00`), exactly.

    Refuses anything else (exponents, `NaN`, grouping) and more than 18 digits, which no
    64-bit minor-unit column holds: a refusal naming the line, never a rounding.
    """
    cleaned = text.strip().replace("\u2212", "-")
    if not AMOUNT.match(cleaned):
        raise StatementFileError(
            line_no, f"the {what} {text.strip()[:40]!r} is not a number", column=column
        )
    sign, digits = ("-", cleaned[1:]) if cleaned[:1] in "+-" else ("", cleaned)
    whole, _, fraction = digits.partition(".")
    significant = len(whole.lstrip("0")) + len(fraction)
    if significant > MAX_DIGITS:
        raise StatementFileError(
            line_no,
            f"the {what} {text.strip()[:40]!r} has {significant} digits; at most "
            f"{MAX_DIGITS} are read",
            column=column,
        )
    return Decimal(sign + (whole or "0") + (f".{fraction}" if fraction else ""))


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def balance_check(*, opening: Decimal, closing: Decimal, lines: Sequence[StatementLine],
                  line_no: int | None, currency: str = "",
                  column: int | None = None) -> None:  # fmt: skip
    """A statement's closing balance must be its opening plus its lines, to the cent."""
    expected = opening + sum((line.amount for line in lines), Decimal(0))
    if expected != closing:
        unit = f" {currency}" if currency else ""
        raise StatementFileError(
            line_no,
            f"the closing balance {closing}{unit} is not the opening balance {opening}{unit} "
            f"plus the lines ({expected}{unit}); the file is incomplete or altered",
            column=column,
        )


def currency_check(*, stated: str, expected: str, what: str, line_no: int | None,
                   column: int | None = None) -> None:  # fmt: skip
    """Every balance of a statement is in the statement's currency."""
    if stated.strip().upper() != expected.strip().upper():
        raise StatementFileError(
            line_no,
            f"the {what} is in {stated.strip() or 'no currency'}, the statement in {expected}",
            column=column,
        )


def fees_fold(lines: Sequence[StatementLine]) -> list[StatementLine]:
    """Put `FEE-<ref>` lines back inside their `<ref>` line, as Wise's API reports them.

    A statement laid out with fees on their own lines (Wise's FLAT type, and CSV exports
    that list `FEE-CARD-…` rows) would otherwise key differently from the API's single
    line with the fee inside the amount, and an overlap would store the fee twice. A fee
    line whose payment is not in the file stays a line of its own; ingest joins it to
    its payment when that arrives from another file or the API.
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
