"""Wise's JSON, turned into Bulwark's normalised values: the one mapping of a statement
transaction to a `StatementLine`, and of a balance to what a cash account holds.

The statement files (CSV, CAMT.053, MT940) of the same line must produce the same
natural key (`accounts.lines.natural_key`): reference number, direction, UTC booking day
and amount in minor units. That holds as long as this module keeps `reference_number =
referenceNumber`, `booked_at` from `date` in UTC and the signed `amount` with fees inside.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from accounts.lines import StatementLine, StatementLineError
from accounts.trail import raw_json_plain
from accounts.wise.client import wise_time_parse


def _value(money: Any) -> Decimal | None:
    # `type(x) is dict` first: what json.loads gives, and much cheaper than the ABC check.
    if type(money) is not dict and not isinstance(money, Mapping):
        return None
    value = money.get("value")
    if value is None:
        return None
    if type(value) is Decimal:  # parsed with parse_float=Decimal: already the amount
        return value
    if isinstance(value, float):  # json.loads without parse_float=Decimal: refuse
        raise TypeError("amounts must be parsed as Decimal, not float")
    return Decimal(value)


def _currency(money: Any) -> str:
    if type(money) is not dict and not isinstance(money, Mapping):
        return ""
    return str(money.get("currency") or "").upper()


def _counter_side(
    txn: Mapping[str, Any], details: Mapping[str, Any], currency: str
) -> tuple[str, Decimal | None, Decimal | None]:
    """The other currency of a conversion or a card payment abroad: (code, amount, rate).

    A conversion names both sides (`sourceAmount`, `targetAmount`) and Wise's rate
    (target units per source unit); this line's counter side is the one that is not its
    own currency. A card payment abroad has `exchangeDetails` (`forAmount` in the spec,
    `fromAmount`/`toAmount` live) or the original `details.amount`.
    """
    exchange = txn.get("exchangeDetails") or {}
    rate = details.get("rate")
    if rate is None:
        rate = exchange.get("rate")
    rate = None if rate is None else Decimal(rate)
    source, target = details.get("sourceAmount"), details.get("targetAmount")
    if source and target:
        other = target if _currency(source) == currency else source
        return _currency(other), _value(other), rate
    candidates = (
        exchange.get("forAmount"),
        exchange.get("toAmount"),
        exchange.get("fromAmount"),
        details.get("amount"),
    )
    for candidate in candidates:
        if candidate:
            other = _currency(candidate)
            if other and other != currency:
                return other, _value(candidate), rate
    return "", None, rate


def _counterparty(details: Mapping[str, Any]) -> str:
    sender = details.get("senderName")
    if sender:
        return str(sender)
    recipient = details.get("recipient") or {}
    merchant = details.get("merchant") or {}
    return str(
        (recipient.get("name") if isinstance(recipient, Mapping) else "")
        or (merchant.get("name") if isinstance(merchant, Mapping) else "")
        or ""
    )


def statement_line_from_wise(txn: dict[str, Any], *, line_no: int | None = None) -> StatementLine:
    """One transaction of a Wise `statement.json` (parsed by `wise_json_decode`: JSON's
    own types, Decimals for numbers with a point) as a line.

    `amount` is signed and already includes the fees (COMPACT statements), `fee` is
    `totalFees`, `direction` is Wise's `type`; the whole transaction is kept as `raw`.
    Raises StatementLineError naming the line when a required field is missing.
    """
    try:
        amount = _value(txn["amount"])
        currency = _currency(txn["amount"])
        booked_at: datetime = wise_time_parse(txn["date"])
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise StatementLineError(line_no, f"unreadable Wise transaction ({exc!r})") from exc
    if amount is None or not currency:
        raise StatementLineError(line_no, "the transaction has no amount")
    details: Mapping[str, Any] = txn.get("details") or {}
    try:
        counter_currency, counter_amount, rate = _counter_side(txn, details, currency)
        fee = _value(txn.get("totalFees")) or Decimal(0)
        running = _value(txn.get("runningBalance"))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise StatementLineError(line_no, f"unreadable Wise transaction ({exc!r})") from exc
    direction = str(txn.get("type") or "").upper() or None
    return StatementLine(
        booked_at=booked_at,
        amount=amount,
        currency=currency,
        fee=abs(fee),
        wise_type=str(details.get("type") or "UNKNOWN"),
        description=str(details.get("description") or ""),
        counterparty=_counterparty(details),
        reference_number=str(txn.get("referenceNumber") or ""),
        payment_reference=str(details.get("paymentReference") or ""),
        running_balance=running,
        counter_currency=counter_currency,
        counter_amount=counter_amount,
        fx_rate=rate,
        direction=direction if direction in ("CREDIT", "DEBIT") else None,
        raw=txn,
        raw_text=raw_json_plain(txn),
        line_no=line_no,
    )


def statement_lines_from_wise(statement: Mapping[str, Any]) -> list[StatementLine]:
    """Every transaction of a statement, oldest first, numbered as Wise listed them."""
    transactions = statement.get("transactions") or []
    lines = [statement_line_from_wise(txn, line_no=n) for n, txn in enumerate(transactions, 1)]
    lines.sort(key=lambda line: line.booked_at)
    return lines
