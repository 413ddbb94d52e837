"""Writes of money held: storing statement lines (from any source) and keeping the
derived daily balances current."""

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any, NamedTuple

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.lines import TEXT_LIMITS, StatementLine, StatementLineError, natural_key
from accounts.models import CashAccount, DailyBalance, Transaction
from accounts.signals import lines_stored
from accounts.trail import RATE_PLACES, line_digest, raw_json
from treasury.fields import ExactDecimalField
from treasury.money import (
    InexactAmountError,
    UnknownCurrencyError,
    currency_validate,
    minor_units,
    to_minor,
)

# SQLite allows 999 parameters per statement in old builds; stay under it everywhere.
LOOKUP_CHUNK = 900
# Minor units are stored in 64-bit columns; 18 digits always fit (and sum) there.
MAX_MINOR = 10**18
FEE_PREFIX = "FEE-"
# Text that has no place in a stored line (NUL, escape, …); PostgreSQL refuses NUL.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TEXT_LABELS = {"description": "description", "counterparty": "counterparty",
               "reference_number": "reference number", "payment_reference": "payment reference",
               "wise_type": "type"}  # fmt: skip


@dataclass(frozen=True)
class IngestResult:
    created: int
    skipped: int
    first_new_day: date | None
    # The natural keys of the stored lines that stand for the batch: its own, and a fee
    # line or payment it was joined to (what a statement's balance proof counts as its),
    # and how much more those move the balance than the batch's lines (a fee line found
    # inside a stored payment stands for that payment too).
    keys: frozenset[str] = frozenset()
    joined_minor: int = 0


class _Prepared(NamedTuple):  # a tuple: built once per line, cheaper than a dataclass
    key: str
    line: StatementLine
    values: dict[str, object]


_PLACES: dict[str, int] = {}  # currency -> minor units, from the ISO table


def _to_minor(amount: Decimal, code: str) -> int:
    """`to_minor`, answering the usual exact case from a cached exponent (a statement
    converts several amounts per line); anything else goes to `to_minor` itself."""
    places = _PLACES.get(code)
    if places is None:
        places = _PLACES[code] = minor_units(code)
    scaled = amount.scaleb(places)
    if scaled.is_finite() and scaled == scaled.to_integral_value() and abs(scaled) < MAX_MINOR:
        return int(scaled)
    minor = to_minor(amount, code)  # raises InexactAmountError, naming the amount
    if abs(minor) >= MAX_MINOR:
        raise InexactAmountError(f"{amount} {code} is too large (at most 18 digits)")
    return minor


def _text_check(line: StatementLine) -> None:
    """Text beyond the stored field's length, or with control characters, is refused,
    never cut: the record keeps what the source said or nothing."""
    for name, limit in TEXT_LIMITS.items():
        value = getattr(line, name)
        if len(value) > limit:
            raise StatementLineError(
                line.line_no,
                f"the {TEXT_LABELS[name]} is {len(value):,} characters long; at most "
                f"{limit:,} are stored",
                column=line.column,
            )
        if CONTROL.search(value):
            raise StatementLineError(
                line.line_no,
                f"the {TEXT_LABELS[name]} holds a control character",
                column=line.column,
            )


def _prepare(account: CashAccount, line: StatementLine, source: str) -> _Prepared:
    """Validate one line against its account and turn it into stored values."""
    at = {"column": line.column}
    if line.booked_at.tzinfo is None:
        raise StatementLineError(line.line_no, "the date has no time zone", **at)
    try:
        currency = account.currency if line.currency == account.currency else (
            currency_validate(line.currency)
        )  # fmt: skip
    except UnknownCurrencyError as exc:
        raise StatementLineError(line.line_no, str(exc), **at) from exc
    if currency != account.currency:
        raise StatementLineError(
            line.line_no,
            f"currency {currency} does not match the account's currency {account.currency}",
            **at,
        )
    direction = line.resolved_direction
    if (direction == "CREDIT" and line.amount < 0) or (direction == "DEBIT" and line.amount > 0):
        raise StatementLineError(line.line_no, f"a {direction.lower()} of {line.amount}", **at)
    if line.fee < 0:
        raise StatementLineError(line.line_no, f"negative fee {line.fee}", **at)
    _text_check(line)
    try:
        amount_minor = _to_minor(line.amount, currency)
        fee_minor = _to_minor(line.fee, currency)
        running = (
            None if line.running_balance is None else _to_minor(line.running_balance, currency)
        )
        counter_currency = currency_validate(line.counter_currency) if line.counter_currency else ""
        counter = (
            _to_minor(line.counter_amount, counter_currency)
            if line.counter_amount is not None and counter_currency
            else None
        )
    except (InexactAmountError, UnknownCurrencyError) as exc:
        raise StatementLineError(line.line_no, str(exc), column=line.column) from exc
    booked_on = line.booked_on
    key_amount = amount_minor
    if line.fee_outside and fee_minor and direction == "DEBIT":
        key_amount, fee_minor = amount_minor - fee_minor, 0  # its fee line counts the fee
    key = natural_key(
        reference_number=line.reference_number,
        direction=direction,
        booked_on=booked_on,
        amount_minor=key_amount,
        discriminator=line.key_discriminator,
    )
    rate = None if line.fx_rate is None else _rate(line)
    values: dict[str, object] = {
        "natural_key": key,
        "booked_at": line.booked_at,
        "booked_on": booked_on,
        "direction": direction,
        "currency": currency,
        "amount_minor": amount_minor,
        "fee_minor": fee_minor,
        "running_balance_minor": running,
        "wise_type": line.wise_type or "UNKNOWN",
        "description": line.description,
        "counterparty": line.counterparty,
        "reference_number": line.reference_number,
        "payment_reference": line.payment_reference,
        "counter_currency": counter_currency,
        "counter_amount_minor": counter,
        "fx_rate": rate,
        "source": source,
        # Encoded once: the digest covers this text and the insert stores it as is.
        "raw": line.raw_text or raw_json(line.raw),
    }
    return _Prepared(key=key, line=line, values=values)


RATE_INTEGER_DIGITS = 14  # Transaction.fx_rate: 24 digits, 10 of them decimals


def _rate(line: StatementLine) -> Decimal:
    """The line's exchange rate as stored (10 decimal places), refused rather than rounded
    when it has more digits than the column holds."""
    assert line.fx_rate is not None
    rate = line.fx_rate.quantize(RATE_PLACES, ROUND_HALF_EVEN)
    if rate != line.fx_rate or rate.adjusted() >= RATE_INTEGER_DIGITS:
        raise StatementLineError(
            line.line_no,
            f"Exchange rate {line.fx_rate} has more digits than Bulwark stores "
            f"({RATE_INTEGER_DIGITS} before the point, 10 after).",
        )
    return rate


def _existing_keys(account: CashAccount, items: dict[str, _Prepared]) -> set[str]:
    """The keys among `items` the account holds already.

    A few keys: looked up by key. Many (a statement page): a key names its booking day,
    so only the stored lines of the days the batch spans can match, read with one range
    query on (account, booked_on) rather than one lookup per 900 keys. An account
    without lines holds none.
    """
    if account.chain_length == 0 or not items:
        return set()
    if len(items) <= LOOKUP_CHUNK:
        stored = Transaction.objects.filter(account=account, natural_key__in=list(items))
    else:
        days = [item.line.booked_on for item in items.values()]
        stored = Transaction.objects.filter(
            account=account, booked_on__gte=min(days), booked_on__lte=max(days)
        )
    return set(stored.values_list("natural_key", flat=True).iterator()) & items.keys()


def _db_adapter(field: models.Field) -> Callable[[Any], Any] | None:
    """The backend's own conversion for a column of this type (None: the driver takes
    the value as it is), without the per-value checks of `Field.get_db_prep_save`."""
    ops = connection.ops
    if isinstance(field, models.JSONField):
        return None  # `raw` arrives as canonical JSON text (see _prepare); both backends take it
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, ExactDecimalField):  # its text form on SQLite
        return partial(field.get_db_prep_value, connection=connection)
    if isinstance(field, models.DecimalField):
        return partial(ops.adapt_decimalfield_value, max_digits=field.max_digits,
                       decimal_places=field.decimal_places)  # fmt: skip
    return None


def _transactions_insert(rows: list[dict[str, Any]], *, copy: bool = True) -> None:
    """INSERT new lines: with `COPY` on PostgreSQL, one `executemany` elsewhere (or with
    `copy=False`: the plain SQL insert `bench ingest` measures against).

    Measured with bench/ingest.py: on SQLite about five times faster than `bulk_create`,
    which sends every value of every row through the SQL compiler and `get_db_prep_save`
    and batches 41 rows per statement (999 parameters). Dates, times, the rate and the
    JSON get the backend's own adapters; ints and strings go to the driver as they are.
    psycopg's COPY adapts and streams the same values, in a fraction of the round trips.
    """
    fields = [f for f in Transaction._meta.concrete_fields if not f.primary_key]
    adapters = [(f.attname, _db_adapter(f)) for f in fields]
    quote = connection.ops.quote_name
    table, columns = quote(Transaction._meta.db_table), ", ".join(quote(f.column) for f in fields)
    params = [
        tuple(row[name] if adapt is None else adapt(row[name]) for name, adapt in adapters)
        for row in rows
    ]
    if copy and connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as stream,
        ):
            for values in params:
                stream.write_row(values)
        return
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - names from the model
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def transactions_ingest(
    *,
    account: CashAccount,
    lines: Sequence[StatementLine],
    source: str,
    opening_balance: Decimal | None = None,
    balances: bool = True,
) -> IngestResult:
    """Store the lines not stored yet, chained, and bring daily balances up to date.

    All or nothing: one invalid line raises StatementLineError naming it and stores none.
    Idempotent: lines whose natural key the account already holds are skipped, so a rerun,
    an overlap or a second source adds nothing twice; a fee line and its payment arriving
    from different sources are joined (`_fee_joins`). Concurrent callers for one account
    queue on the account row. `opening_balance`, when a source states one, applies if
    these lines are the account's earliest. With `balances=False` the caller (a statement
    import, inside its own transaction) derives the opening and daily balances itself.
    """
    prepared = [_prepare(account, line, source) for line in lines]
    with transaction.atomic():
        locked = CashAccount.objects.select_for_update().get(pk=account.pk)
        unique: dict[str, _Prepared] = {}
        for item in prepared:
            unique.setdefault(item.key, item)
        existing = _existing_keys(locked, unique)
        joined, keys, joined_minor = _fee_joins(locked, unique, existing)
        new = sorted(
            (item for key, item in unique.items() if key not in existing and key not in joined),
            key=lambda item: (item.line.booked_at, item.key),
        )
        if not new:
            return IngestResult(created=0, skipped=len(prepared), first_new_day=None, keys=keys,
                                joined_minor=joined_minor)  # fmt: skip
        rows = []
        head, seq, now = locked.chain_head, locked.chain_length, timezone.now()
        account_id = locked.pk
        for item in new:
            seq += 1
            values = item.values  # built by _prepare for this call alone: extended in place
            values["seq"] = seq
            digest = line_digest(head, account_id, values, raw_text=values["raw"])
            values["account_id"], values["prev_digest"] = account_id, head
            values["digest"], values["created_at"] = digest, now
            rows.append(values)
            head = digest
        _transactions_insert(rows)
        locked.chain_head, locked.chain_length = head, seq
        first_new_day = min(item.line.booked_on for item in new)
        if balances:
            opening_changed = _opening_balance_update(locked, new[0], opening_balance)
            locked.save(update_fields=["chain_head", "chain_length", "opening_balance_minor"])
            daily_balances_refresh(account=locked, since=None if opening_changed else first_new_day)
        else:
            locked.save(update_fields=["chain_head", "chain_length"])
        lines_stored.send(sender=CashAccount, account=locked, first_seq=seq - len(rows) + 1)
    account.refresh_from_db()
    return IngestResult(
        created=len(rows), skipped=len(prepared) - len(rows), first_new_day=first_new_day,
        keys=keys, joined_minor=joined_minor,
    )  # fmt: skip


def _fee_joins(
    account: CashAccount, items: dict[str, _Prepared], existing: set[str]
) -> tuple[set[str], frozenset[str], int]:
    """Join a fee line and its payment that arrive from different sources.

    Wise reports a payment with its fee inside (`CARD-1`, -11.35, fee 0.35); a FLAT
    statement lists the fee on a line of its own (`FEE-CARD-1`, -0.35) beside the payment
    without it (-11.00). Within one file `fees_fold` joins the two. Across sources the
    fee line is stored on its own and the payment beside it holds the rest, keyed as the
    API keys it, so every source finds it again:

    - a fee line whose payment is stored with that fee inside is already counted;
    - a payment whose fee line is stored keeps only the rest (its amount less the fee if
      the fee was inside it), unless that is stored already.

    Whether a payment's amount holds its fee is read from the running balances of the
    two lines when both have them, else from the layout (`fee_outside`, or a fee field).
    Returns the keys not to store, every stored key the batch stands for, and how much
    more those move the balance than the batch's own lines.
    """
    keys = set(items)
    wanted = [
        item for item in items.values()
        if item.line.reference_number
        and (item.line.reference_number.startswith(FEE_PREFIX) or item.line.fee)
    ]  # fmt: skip
    if not wanted or account.chain_length == 0:
        return set(), frozenset(keys), 0
    stored = _partners_stored(account, wanted)
    skip: set[str] = set()
    extra = 0
    for item in wanted:
        values, reference = item.values, item.line.reference_number
        slot = (values["direction"], values["booked_on"])
        if item.key in existing:  # stored already: beside its fee line, if that holds part
            row = next(
                r for r in stored.get((reference, *slot), []) if r["natural_key"] == item.key
            )
            part = values["amount_minor"] - row["amount_minor"]
            if part and not reference.startswith(FEE_PREFIX):
                fee_row = next((r for r in stored.get((FEE_PREFIX + reference, *slot), [])
                                if r["amount_minor"] == part), None)  # fmt: skip
                if fee_row is not None:
                    keys.add(fee_row["natural_key"])
            continue
        if reference.startswith(FEE_PREFIX):
            for row in stored.get((reference[len(FEE_PREFIX) :], *slot), []):
                if _holds_own_amount(row) and _fee_inside(
                    row["amount_minor"], row["running_balance_minor"], values["amount_minor"],
                    values["running_balance_minor"], fee_listed=row["fee_minor"],
                ):  # fmt: skip
                    skip.add(item.key)  # the payment holds this fee inside
                    keys.add(row["natural_key"])
                    extra += row["amount_minor"] - values["amount_minor"]
                    break
            continue
        fee = _to_minor(item.line.fee, values["currency"])
        fee_row = next((row for row in stored.get((FEE_PREFIX + reference, *slot), [])
                        if row["amount_minor"] == -fee), None)  # fmt: skip
        payments = stored.get((reference, *slot), [])
        if fee_row is None:
            joined = _joined_stored(item, payments, fee)
            if joined is not None:  # the API's line holds this payment and its fee line
                skip.add(item.key)
                keys.add(joined["natural_key"])
                extra += joined["amount_minor"] - values["amount_minor"]
            continue
        amount = values["amount_minor"]
        inside = not item.line.fee_outside and _fee_inside(
            amount, values["running_balance_minor"], -fee, fee_row["running_balance_minor"],
            fee_listed=fee,
        )  # fmt: skip
        rest = amount + fee if inside else amount
        if inside:  # the stored fee line is part of what this line says
            keys.add(fee_row["natural_key"])
        api_key = item.key if inside else _key_with_amount(item, amount - fee)
        present = next(
            (
                row
                for row in payments
                if row["amount_minor"] == rest or row["natural_key"] == api_key
            ),
            None,
        )
        if present is not None:
            skip.add(item.key)  # stored beside its fee line already
            keys.add(present["natural_key"])
            continue
        values["amount_minor"], values["fee_minor"], values["natural_key"] = rest, 0, api_key
        values["raw"] = raw_json({**item.line.raw, "fee_line": fee_row["natural_key"]})
        keys.add(api_key)
    return skip, frozenset(keys), extra


def _joined_stored(
    item: _Prepared, payments: list[dict[str, Any]], fee: int
) -> dict[str, Any] | None:
    """A stored payment that is this one with its fee inside (the API's line), when this
    one leaves the fee out: its amount less the fee, its balance after the fee."""
    values = item.values
    if values["direction"] != "DEBIT":
        return None
    amount, balance = values["amount_minor"], values["running_balance_minor"]
    for row in payments:
        if row["amount_minor"] != amount - fee or row["fee_minor"] != fee:
            continue
        stored_balance = row["running_balance_minor"]
        if item.line.fee_outside or (balance is not None and stored_balance == balance - fee):
            return row
    return None


def _partners_stored(
    account: CashAccount, wanted: list[_Prepared]
) -> dict[tuple[str, str, date], list[dict[str, Any]]]:
    """The stored fee lines and payments the batch's payments and fee lines pair with."""
    references = set()
    for item in wanted:
        reference = item.line.reference_number
        references.add(reference)
        references.add(reference[len(FEE_PREFIX) :] if reference.startswith(FEE_PREFIX)
                       else FEE_PREFIX + reference)  # fmt: skip
    days = {item.values["booked_on"] for item in wanted}
    stored: dict[tuple[str, str, date], list[dict[str, Any]]] = {}
    for chunk in _chunks(sorted(references)):
        rows = Transaction.objects.filter(
            account=account, reference_number__in=chunk, booked_on__in=days
        ).values("natural_key", "reference_number", "direction", "booked_on", "amount_minor",
                 "fee_minor", "running_balance_minor")  # fmt: skip
        for row in rows:
            slot = (row["reference_number"], row["direction"], row["booked_on"])
            stored.setdefault(slot, []).append(row)
    return stored


def _fee_inside(payment: int, payment_balance: int | None, fee: int, fee_balance: int | None,
                *, fee_listed: int) -> bool:  # fmt: skip
    """Whether a payment's amount holds the fee a separate fee line states (`fee` < 0).

    With both running balances: a payment without its fee moves the balance between the
    two lines by its own amount (fee line first) or is followed by the fee (fee line
    after). Without them: when the payment lists that fee, it holds it, as Wise's API does.
    """
    if payment_balance is not None and fee_balance is not None:
        apart = payment_balance == fee_balance + payment or fee_balance == payment_balance + fee
        return not apart
    return fee_listed == -fee


def _key_with_amount(item: _Prepared, amount_minor: int) -> str:
    line = item.line
    return natural_key(
        reference_number=line.reference_number, direction=item.values["direction"],
        booked_on=item.values["booked_on"], amount_minor=amount_minor,
        discriminator=line.key_discriminator,
    )  # fmt: skip


def _holds_own_amount(row: dict[str, Any]) -> bool:
    """Whether a stored line's amount is the one its key names (not a payment stored net
    beside its fee line)."""
    return row["natural_key"] == natural_key(
        reference_number=row["reference_number"], direction=row["direction"],
        booked_on=row["booked_on"], amount_minor=row["amount_minor"],
    )  # fmt: skip


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _first_of_instant(group: list[dict[str, Any]]) -> dict[str, Any]:
    """The line a group stamped with one instant starts with. Wise gives several lines the
    same time (a payment and the conversion it triggers); their order is in the running
    balances, not the clock: the first is the one whose balance before it is no other
    line's balance after."""
    for candidate in group:
        after = candidate["running_balance_minor"]
        if after is None:
            continue
        before = after - candidate["amount_minor"]
        if not any(
            other["running_balance_minor"] == before for other in group if other is not candidate
        ):
            return candidate
    return group[0]


def _opening_balance_update(
    account: CashAccount, earliest_new: _Prepared, stated: Decimal | None
) -> bool:
    """Derive the balance before the first line; True when it changed."""
    lines = Transaction.objects.filter(account=account)
    earliest = lines.order_by("booked_at").values_list("booked_at", flat=True).first()
    if earliest is None:
        return False
    first = _first_of_instant(
        list(
            lines.filter(booked_at=earliest)
            .order_by("seq")
            .values("natural_key", "amount_minor", "running_balance_minor")
        )
    )
    opening = account.opening_balance_minor
    if first["running_balance_minor"] is not None:
        opening = first["running_balance_minor"] - first["amount_minor"]
    elif stated is not None and first["natural_key"] == earliest_new.key:
        opening = to_minor(stated, account.currency)
    changed = opening != account.opening_balance_minor
    account.opening_balance_minor = opening
    return changed


def daily_balances_refresh(*, account: CashAccount, since: date | None) -> int:
    """Recompute the account's daily rows from `since` (None: from the start).

    One INSERT … SELECT in the database: lines grouped by day, the running closing as a
    window sum over the days, started from the closing before `since` (or the opening
    balance). Integer minor units, so the sums are exact on every backend.
    """
    closing = account.opening_balance_minor
    old = DailyBalance.objects.filter(account=account)
    if since is not None:
        previous = (
            old.filter(date__lt=since).order_by("-date").values_list("closing_minor", flat=True)
        ).first()
        closing = closing if previous is None else previous
        old = old.filter(date__gte=since)
    old.delete()
    daily, lines = DailyBalance._meta, Transaction._meta
    quote = connection.ops.quote_name
    day_filter = "" if since is None else f" AND {quote('booked_on')} >= %s"
    sql = f"""
        INSERT INTO {quote(daily.db_table)}
            ({quote("account_id")}, {quote("date")}, {quote("closing_minor")},
             {quote("inflow_minor")}, {quote("outflow_minor")}, {quote("line_count")})
        SELECT %s, {quote("booked_on")},
               %s + SUM(SUM({quote("amount_minor")})) OVER (
                   ORDER BY {quote("booked_on")} ROWS UNBOUNDED PRECEDING),
               SUM(CASE WHEN {quote("amount_minor")} > 0 THEN {quote("amount_minor")} ELSE 0 END),
               SUM(CASE WHEN {quote("amount_minor")} < 0 THEN {quote("amount_minor")} ELSE 0 END),
               COUNT(*)
        FROM {quote(lines.db_table)}
        WHERE {quote("account_id")} = %s{day_filter}
        GROUP BY {quote("booked_on")}
    """  # noqa: S608 - identifiers from the models, values as parameters
    params: list[object] = [account.pk, closing, account.pk]
    if since is not None:
        params.append(since)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
