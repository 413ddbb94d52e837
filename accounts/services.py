"""Writes of money held: storing statement lines (from any source) and keeping the
derived daily balances current."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any, NamedTuple

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.lines import StatementLine, StatementLineError, natural_key
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


@dataclass(frozen=True)
class IngestResult:
    created: int
    skipped: int
    first_new_day: date | None


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
    if scaled.is_finite() and scaled == scaled.to_integral_value():
        return int(scaled)
    return to_minor(amount, code)  # raises InexactAmountError, naming the amount


def _prepare(account: CashAccount, line: StatementLine, source: str) -> _Prepared:
    """Validate one line against its account and turn it into stored values."""
    if line.booked_at.tzinfo is None:
        raise StatementLineError(line.line_no, "the date has no time zone")
    try:
        currency = account.currency if line.currency == account.currency else (
            currency_validate(line.currency)
        )  # fmt: skip
    except UnknownCurrencyError as exc:
        raise StatementLineError(line.line_no, str(exc)) from exc
    if currency != account.currency:
        raise StatementLineError(
            line.line_no,
            f"currency {currency} does not match the account's currency {account.currency}",
        )
    direction = line.resolved_direction
    if (direction == "CREDIT" and line.amount < 0) or (direction == "DEBIT" and line.amount > 0):
        raise StatementLineError(line.line_no, f"a {direction.lower()} of {line.amount}")
    if line.fee < 0:
        raise StatementLineError(line.line_no, f"negative fee {line.fee}")
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
        raise StatementLineError(line.line_no, str(exc)) from exc
    booked_on = line.booked_on
    key = natural_key(
        reference_number=line.reference_number,
        direction=direction,
        booked_on=booked_on,
        amount_minor=amount_minor,
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
        "wise_type": (line.wise_type or "UNKNOWN")[:40],
        "description": line.description,
        "counterparty": line.counterparty[:300],
        "reference_number": line.reference_number[:100],
        "payment_reference": line.payment_reference[:300],
        "counter_currency": counter_currency,
        "counter_amount_minor": counter,
        "fx_rate": rate,
        "source": source,
        # Encoded once: the digest covers this text and the insert stores it as is.
        "raw": raw_json(line.raw),
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


def _transactions_insert(rows: list[dict[str, Any]]) -> None:
    """INSERT new lines with one `executemany`.

    Measured with bench/ingest.py: on SQLite about five times faster than `bulk_create`,
    which sends every value of every row through the SQL compiler and `get_db_prep_save`
    and batches 41 rows per statement (999 parameters). Dates, times, the rate and the
    JSON get the backend's own adapters; ints and strings go to the driver as they are.
    """
    fields = [f for f in Transaction._meta.concrete_fields if not f.primary_key]
    adapters = [(f.attname, _db_adapter(f)) for f in fields]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from the model
        quote(Transaction._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    params = [
        tuple(row[name] if adapt is None else adapt(row[name]) for name, adapt in adapters)
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def transactions_ingest(
    *,
    account: CashAccount,
    lines: Sequence[StatementLine],
    source: str,
    opening_balance: Decimal | None = None,
) -> IngestResult:
    """Store the lines not stored yet, chained, and bring daily balances up to date.

    All or nothing: one invalid line raises StatementLineError naming it and stores none.
    Idempotent: lines whose natural key the account already holds are skipped, so a rerun,
    an overlap or a second source adds nothing twice. Concurrent callers for one account
    queue on the account row. `opening_balance`, when a source states one (MT940 `:60F:`),
    applies if these lines are the account's earliest.
    """
    prepared = [_prepare(account, line, source) for line in lines]
    with transaction.atomic():
        locked = CashAccount.objects.select_for_update().get(pk=account.pk)
        unique: dict[str, _Prepared] = {}
        for item in prepared:
            unique.setdefault(item.key, item)
        existing = _existing_keys(locked, unique)
        new = sorted(
            (item for key, item in unique.items() if key not in existing),
            key=lambda item: (item.line.booked_at, item.key),
        )
        if not new:
            return IngestResult(created=0, skipped=len(prepared), first_new_day=None)
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
        opening_changed = _opening_balance_update(locked, new[0], opening_balance)
        locked.save(update_fields=["chain_head", "chain_length", "opening_balance_minor"])
        daily_balances_refresh(account=locked, since=None if opening_changed else first_new_day)
        lines_stored.send(sender=CashAccount, account=locked, first_seq=seq - len(rows) + 1)
    account.refresh_from_db()
    return IngestResult(
        created=len(rows), skipped=len(prepared) - len(rows), first_new_day=first_new_day
    )


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
