"""Writes of money held: storing statement lines (from any source) and keeping the
derived daily balances current."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction
from django.db.models import Case, Count, IntegerField, Sum, When

from accounts.lines import StatementLine, StatementLineError, natural_key
from accounts.models import CashAccount, DailyBalance, Transaction
from accounts.signals import lines_stored
from accounts.trail import RATE_PLACES, line_digest
from treasury.money import InexactAmountError, UnknownCurrencyError, currency_validate, to_minor

# SQLite allows 999 parameters per statement in old builds; stay under it everywhere.
LOOKUP_CHUNK = 900


@dataclass(frozen=True)
class IngestResult:
    created: int
    skipped: int
    first_new_day: date | None


@dataclass(frozen=True)
class _Prepared:
    key: str
    line: StatementLine
    values: dict[str, object]


def _prepare(account: CashAccount, line: StatementLine, source: str) -> _Prepared:
    """Validate one line against its account and turn it into stored values."""
    if line.booked_at.tzinfo is None:
        raise StatementLineError(line.line_no, "the date has no time zone")
    try:
        currency = currency_validate(line.currency)
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
        amount_minor = to_minor(line.amount, currency)
        fee_minor = to_minor(line.fee, currency)
        running = None if line.running_balance is None else to_minor(line.running_balance, currency)
        counter_currency = currency_validate(line.counter_currency) if line.counter_currency else ""
        counter = (
            to_minor(line.counter_amount, counter_currency)
            if line.counter_amount is not None and counter_currency
            else None
        )
    except (InexactAmountError, UnknownCurrencyError) as exc:
        raise StatementLineError(line.line_no, str(exc)) from exc
    key = natural_key(
        reference_number=line.reference_number,
        direction=direction,
        booked_on=line.booked_on,
        amount_minor=amount_minor,
        discriminator=line.key_discriminator,
    )
    rate = None if line.fx_rate is None else line.fx_rate.quantize(RATE_PLACES, ROUND_HALF_EVEN)
    values: dict[str, object] = {
        "natural_key": key,
        "booked_at": line.booked_at,
        "booked_on": line.booked_on,
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
        "raw": dict(line.raw),
    }
    return _Prepared(key=key, line=line, values=values)


def _existing_keys(account: CashAccount, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        found.update(
            Transaction.objects.filter(account=account, natural_key__in=chunk).values_list(
                "natural_key", flat=True
            )
        )
    return found


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
        existing = _existing_keys(locked, list(unique))
        new = sorted(
            (item for key, item in unique.items() if key not in existing),
            key=lambda item: (item.line.booked_at, item.key),
        )
        if not new:
            return IngestResult(created=0, skipped=len(prepared), first_new_day=None)
        rows = []
        head, seq = locked.chain_head, locked.chain_length
        for item in new:
            seq += 1
            values = {**item.values, "seq": seq}
            digest = line_digest(head, locked.pk, values)
            rows.append(Transaction(account=locked, prev_digest=head, digest=digest, **values))
            head = digest
        Transaction.objects.bulk_create(rows, batch_size=2000)
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


def _opening_balance_update(
    account: CashAccount, earliest_new: _Prepared, stated: Decimal | None
) -> bool:
    """Derive the balance before the first line; True when it changed."""
    first = (
        Transaction.objects.filter(account=account)
        .order_by("booked_at", "seq")
        .values("natural_key", "amount_minor", "running_balance_minor")
        .first()
    )
    if first is None:
        return False
    opening = account.opening_balance_minor
    if first["running_balance_minor"] is not None:
        opening = first["running_balance_minor"] - first["amount_minor"]
    elif stated is not None and first["natural_key"] == earliest_new.key:
        opening = to_minor(stated, account.currency)
    changed = opening != account.opening_balance_minor
    account.opening_balance_minor = opening
    return changed


def daily_balances_refresh(*, account: CashAccount, since: date | None) -> int:
    """Recompute the account's daily rows from `since` (None: from the start)."""
    lines = Transaction.objects.filter(account=account)
    old = DailyBalance.objects.filter(account=account)
    closing = account.opening_balance_minor
    if since is not None:
        lines = lines.filter(booked_on__gte=since)
        before = old.filter(date__lt=since).order_by("-date")
        previous = before.values_list("closing_minor", flat=True).first()
        closing = closing if previous is None else previous
        old = old.filter(date__gte=since)
    per_day = (
        lines.values("booked_on")
        .annotate(
            inflow=Sum(Case(When(amount_minor__gt=0, then="amount_minor"), default=0,
                            output_field=IntegerField())),
            outflow=Sum(Case(When(amount_minor__lt=0, then="amount_minor"), default=0,
                             output_field=IntegerField())),
            count=Count("id"),
        )
        .order_by("booked_on")
    )  # fmt: skip
    rows = []
    for day in per_day:
        closing += day["inflow"] + day["outflow"]
        rows.append(
            DailyBalance(
                account=account,
                date=day["booked_on"],
                closing_minor=closing,
                inflow_minor=day["inflow"],
                outflow_minor=day["outflow"],
                line_count=day["count"],
            )
        )
    old.delete()
    DailyBalance.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
