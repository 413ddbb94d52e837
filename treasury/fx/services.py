"""Writes of the rates store: fetching sources, storing their rates, owner overrides.

Fetches follow the sync pattern: read the cursor (the newest stored date), fetch from it
with an overlap, parse everything before storing anything (a malformed answer stores
nothing), then upsert on the unique (source, base, quote, date) key, oldest year first,
one transaction per year. A rerun, a concurrent run or a run after a kill ends with the
same rows. Every run is logged as a `SyncRun` (kind RATES, label = source) with progress.

Conversion lives in `treasury.fx.convert` (`convert`, `RateBook`, `RateMissing`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import CashAccount, SyncRun
from accounts.runs import run_process_mark, runs_orphaned_fail
from treasury.fx.calendar import ecb_latest_publication, previous_target_day
from treasury.fx.models import OverrideLog, Rate, Source
from treasury.fx.precision import RateInvalid, rate_validate
from treasury.fx.sources import Fetched, ParsedRate
from treasury.fx.sources.ecb import ecb_fetch
from treasury.fx.sources.http import FetchError, RatesHttp, RatesMalformed
from treasury.fx.sources.treasury import treasury_fetch
from treasury.fx.sources.wise import WiseRatesClient, wise_fetch
from treasury.money import currency_validate

logger = logging.getLogger("bulwark.fx")

FETCHED_SOURCES = (Source.ECB, Source.TREASURY, Source.WISE)
TREASURY_FIRST_REPORT = date(2001, 3, 31)
TREASURY_OVERLAP = timedelta(days=92)  # one report back: amendments land under it
ECB_90_DAY_REACH = timedelta(days=85)  # the 90-day file, less a margin for holidays
WISE_BACKFILL = timedelta(days=365)
RUN_LEASE = timedelta(minutes=15)  # a RUNNING log older than this is a dead run
UPDATED_FIELDS = ["rate", "record_date", "source_key", "observed_at", "fetched_at"]
UNIQUE_FIELDS = ["source", "base", "quote", "date"]


# --- storing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    first_date: date | None = None
    last_date: date | None = None


def _dedupe(rates: Sequence[ParsedRate]) -> list[ParsedRate]:
    unique: dict[tuple[str, str, str, date], ParsedRate] = {}
    for rate in rates:
        key = (rate.source, rate.base, rate.quote, rate.date)
        seen = unique.get(key)
        if seen is not None and seen.rate != rate.rate:
            raise RatesMalformed(
                f"{rate.source} gave two rates for {rate.base}/{rate.quote} on {rate.date}: "
                f"{seen.rate} and {rate.rate}"
            )
        unique[key] = rate
    return sorted(unique.values(), key=lambda r: (r.date, r.quote))


COLUMNS = [
    *UNIQUE_FIELDS,
    "rate",
    "record_date",
    "source_key",
    "observed_at",
    "fetched_at",
    "reason",
]


# PostgreSQL column types of COLUMNS, for the one-statement-per-batch unnest() insert.
PG_TYPES = ("varchar", "varchar", "varchar", "date", "numeric", "date", "varchar",
            "timestamptz", "timestamptz", "text")  # fmt: skip
PG_BATCH = 20_000


def _upsert(rates: list[ParsedRate], fetched_at: datetime) -> None:
    """INSERT … ON CONFLICT (source, base, quote, date) DO UPDATE, in the form each database
    runs fastest. SQLite: one prepared statement executed over all rows. PostgreSQL: one
    statement per 20,000 rows, the columns sent as arrays and spread by `unnest()`, so the
    server inserts a set rather than parsing 225,000 statements (40 s down to a few).
    `bulk_create(update_conflicts=…)` says the same but builds a model per row and
    statements of 90 rows: 25 s instead of 4 s for the ECB's history on SQLite."""
    quote = connection.ops.quote_name
    ops = connection.ops
    table, columns = quote(Rate._meta.db_table), ", ".join(map(quote, COLUMNS))
    conflict = ", ".join(map(quote, UNIQUE_FIELDS))
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in UPDATED_FIELDS)
    on_conflict = f" ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    when = ops.adapt_datetimefield_value(fetched_at)
    days: dict[date, object] = {}

    def day(value: date) -> object:
        if value not in days:
            days[value] = ops.adapt_datefield_value(value)
        return days[value]

    rows = [
        (
            r.source, r.base, r.quote, day(r.date), ops.adapt_decimalfield_value(r.rate),
            day(r.record_date) if r.record_date else None, r.source_key,
            ops.adapt_datetimefield_value(r.observed_at), when, "",
        )
        for r in rates
    ]  # fmt: skip
    # Identifiers come from the model and constants; every value is a parameter.
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for kind in PG_TYPES)
        sql = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
        with connection.cursor() as cursor:
            for start in range(0, len(rows), PG_BATCH):
                batch = rows[start : start + PG_BATCH]
                cursor.execute(
                    sql + on_conflict, [list(column) for column in zip(*batch, strict=True)]
                )
        return
    values = ", ".join(["%s"] * len(COLUMNS))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql + on_conflict, rows)


def _store_chunk(rates: list[ParsedRate], fetched_at: datetime) -> tuple[int, int, int]:
    source = rates[0].source
    existing = {
        (base, quote, day): (rate, record_date)
        for base, quote, day, rate, record_date in Rate.objects.filter(
            source=source, date__gte=rates[0].date, date__lte=rates[-1].date
        ).values_list("base", "quote", "date", "rate", "record_date")
    }
    created, changed = [], []
    for rate in rates:
        before = existing.get((rate.base, rate.quote, rate.date))
        if before is None:
            created.append(rate)
        elif before != (rate.rate, rate.record_date):
            changed.append(rate)
    writes = [*created, *changed]
    if writes:
        _upsert(writes, fetched_at)
    return len(created), len(changed), len(rates) - len(writes)


def rates_store(
    *, rates: Sequence[ParsedRate], fetched_at: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> StoreResult:  # fmt: skip
    """Upsert parsed rates of one fetched source, oldest year first, a transaction a year.

    Validates everything first: a rate that cannot be stored stores nothing at all."""
    ordered = _dedupe(rates)
    if not ordered:
        return StoreResult()
    sources = {r.source for r in ordered}
    if len(sources) != 1 or next(iter(sources)) not in FETCHED_SOURCES:
        raise ValueError(f"rates_store takes the rates of one fetched source, got {sources}")
    for rate in ordered:
        try:
            rate_validate(rate.rate)
        except RateInvalid as exc:
            raise RatesMalformed(
                f"{rate.source} {rate.base}/{rate.quote} {rate.date}: {exc}"
            ) from exc
        if rate.base == rate.quote:
            raise RatesMalformed(f"{rate.source} rate of {rate.base} against itself")
    fetched_at = fetched_at or timezone.now()
    created = updated = unchanged = done = 0
    for _, chunk in groupby(ordered, key=lambda r: r.date.year):
        block = list(chunk)
        with transaction.atomic():
            c, u, n = _store_chunk(block, fetched_at)
        created, updated, unchanged = created + c, updated + u, unchanged + n
        done += len(block)
        if on_progress is not None:
            on_progress(done, len(ordered))
    return StoreResult(created, updated, unchanged, ordered[0].date, ordered[-1].date)


# --- fetching ----------------------------------------------------------------------------


@dataclass
class FetchOutcome:
    source: str
    status: str  # a SyncRun.Status value
    message: str
    mode: str = ""
    result: StoreResult = field(default_factory=StoreResult)
    run_id: int | None = None
    seconds: float = 0.0


_wise_client_factory: Callable[[], WiseRatesClient | None] | None = None


def wise_client_factory_register(factory: Callable[[], WiseRatesClient | None]) -> None:
    """Called by the Wise integration (its AppConfig.ready) with a function returning a
    connected client, or None while Wise is not connected."""
    global _wise_client_factory  # one process-wide hook, set at start-up
    _wise_client_factory = factory


def wise_client_get() -> WiseRatesClient | None:
    return _wise_client_factory() if _wise_client_factory is not None else None


def latest_rate_date(source: str) -> date | None:
    return (
        Rate.objects.filter(source=source).order_by("-date").values_list("date", flat=True).first()
    )


def ecb_fetch_plan(*, latest: date | None, since: date | None, now: datetime) -> str:
    """Which ECB file brings the store up to date: `daily`, `90d` or `hist`."""
    today = timezone.localtime(now).date()
    if since is not None:
        return "90d" if since >= today - ECB_90_DAY_REACH else "hist"
    if latest is None:
        return "hist"
    if latest >= previous_target_day(ecb_latest_publication(now)):
        return "daily"
    return "90d" if latest >= today - ECB_90_DAY_REACH else "hist"


def ecb_fetch_due(*, now: datetime | None = None) -> bool:
    """Whether the ECB has published a day the store does not hold yet."""
    latest = latest_rate_date(Source.ECB)
    return latest is None or latest < ecb_latest_publication(now or timezone.now())


class _Run:
    """The SyncRun of one fetch: progress while it goes, counts and errors at the end."""

    def __init__(self, source: str, run_id: int | None = None) -> None:
        self.source = source
        log = None
        if run_id is not None:  # queued from a page: carry on with the row the page polls
            log = SyncRun.objects.filter(pk=run_id, kind=SyncRun.Kind.RATES, label=source).first()
        if log is None:
            log = SyncRun(kind=SyncRun.Kind.RATES, label=source)
        log.status, log.started_at = SyncRun.Status.RUNNING, timezone.now()
        run_process_mark(log)
        log.save()
        self.log = log

    def progress(self, done: int, total: int) -> None:
        self.log.progress_done, self.log.progress_total = done, total
        self.log.save(update_fields=["progress_done", "progress_total"])

    def finish(self, status: str, message: str, **detail: Any) -> None:
        self.log.status, self.log.finished_at = status, timezone.now()
        self.log.error = message if status == SyncRun.Status.FAILED else ""
        self.log.detail = {"message": message, **detail}
        self.log.save(update_fields=["status", "finished_at", "error", "detail"])


def _another_run_active(source: str, run_id: int | None) -> bool:
    """A live fetch of `source` is running; one left by a dead process is marked
    interrupted here instead, so a killed fetch blocks nothing (not even for RUN_LEASE)."""
    runs_orphaned_fail(exclude=run_id, kind=SyncRun.Kind.RATES, label=source)
    return (
        SyncRun.objects.filter(
            kind=SyncRun.Kind.RATES, label=source, status=SyncRun.Status.RUNNING,
            started_at__gte=timezone.now() - RUN_LEASE,
        )
        .exclude(pk=run_id)
        .exists()
    )  # fmt: skip


def rates_fetch_requeue(run: SyncRun) -> SyncRun | None:
    """The sweep's re-queue of an interrupted fetch (beat: `runs_sweep`)."""
    return rates_fetch_enqueue(source=run.label) if run.label in FETCHED_SOURCES else None


def rates_fetch_enqueue(*, source: str) -> SyncRun:
    """Queue a fetch for the worker and return its log row, for the page to poll. A fetch
    of the source already queued or running is returned instead of a second one."""
    from treasury.fx.tasks import fetch_rates  # the tasks module imports this one

    source = Source(source)
    if source not in FETCHED_SOURCES:
        raise ValueError(f"{source} rates are entered by the owner, not fetched")
    runs_orphaned_fail(kind=SyncRun.Kind.RATES, label=source)  # a killed fetch is not pending
    pending = (
        SyncRun.objects.filter(
            kind=SyncRun.Kind.RATES, label=source,
            status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING],
            started_at__gte=timezone.now() - RUN_LEASE,
        )
        .order_by("-started_at")
        .first()
    )  # fmt: skip
    if pending is not None:
        return pending
    run = SyncRun.objects.create(kind=SyncRun.Kind.RATES, label=source)
    transaction.on_commit(lambda: fetch_rates.delay(source=str(source), run_id=run.pk))
    return run


def _fetch(
    source: str, *, since: date | None, now: datetime, http: RatesHttp, run: _Run,
    wise_client: WiseRatesClient | None,
) -> tuple[str, Fetched]:  # fmt: skip
    if source == Source.ECB:
        mode = ecb_fetch_plan(latest=latest_rate_date(Source.ECB), since=since, now=now)
        return mode, ecb_fetch(http, base_url=settings.ECB_URL, kind=mode)
    if source == Source.TREASURY:
        latest = (
            Rate.objects.filter(source=Source.TREASURY)
            .order_by("-record_date").values_list("record_date", flat=True).first()
        )  # fmt: skip
        start = since or (latest - TREASURY_OVERLAP if latest else TREASURY_FIRST_REPORT)
        fetched = treasury_fetch(
            http, base_url=settings.TREASURY_API_URL, since=start, on_page=run.progress
        )
        return f"since {start:%Y-%m-%d}", fetched
    assert wise_client is not None
    currencies = sorted(
        set(CashAccount.objects.values_list("currency", flat=True)) | {settings.BASE_CURRENCY}
    )
    if since is None and latest_rate_date(Source.WISE) is not None:
        return "current", wise_fetch(
            wise_client, base=settings.BASE_CURRENCY, currencies=currencies
        )
    start = (
        timezone.make_aware(datetime.combine(since, datetime.min.time()))
        if since else now - WISE_BACKFILL
    )  # fmt: skip
    fetched = wise_fetch(
        wise_client, base=settings.BASE_CURRENCY, currencies=currencies, start=start, end=now
    )
    return "daily history", fetched


def _queued_run_close(run_id: int | None, message: str) -> None:
    if run_id is not None:
        SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED).update(
            status=SyncRun.Status.SKIPPED, finished_at=timezone.now(), detail={"message": message}
        )


def rates_fetch(
    *, source: str, since: date | None = None, now: datetime | None = None,
    http: RatesHttp | None = None, wise_client: WiseRatesClient | None = None,
    run_id: int | None = None,
) -> FetchOutcome:  # fmt: skip
    """Fetch one source and store what is new. A source's failure does not raise: the
    outcome (and its SyncRun) says FAILED with the reason, and nothing was stored.

    `now` is the moment the fetch plans for (which file, which dates; tests pin it);
    logs, leases and `fetched_at` use the real clock."""
    source = Source(source)
    if source not in FETCHED_SOURCES:
        raise ValueError(f"{source} rates are entered by the owner, not fetched")
    now = now or timezone.now()
    if source == Source.WISE:
        wise_client = wise_client or wise_client_get()
        if wise_client is None:  # checked before logging: the hourly beat would flood the log
            _queued_run_close(run_id, "Wise is not connected.")
            return FetchOutcome(source, SyncRun.Status.SKIPPED, "Wise is not connected.")
    if _another_run_active(source, run_id):
        _queued_run_close(run_id, "Another fetch is running.")
        return FetchOutcome(source, SyncRun.Status.SKIPPED, "Another fetch is running.")
    run = _Run(source, run_id)
    clock = timezone.now()
    own_http = http is None
    http = http or RatesHttp()
    try:
        mode, fetched = _fetch(
            source, since=since, now=now, http=http, run=run, wise_client=wise_client
        )
        rates = [r for r in fetched.rates if since is None or r.date >= since]
        result = rates_store(rates=rates, on_progress=run.progress)
    except FetchError as exc:
        message = f"{type(exc).__name__}: {exc}"
        logger.warning("%s rates fetch failed: %s", source, message)
        run.finish(SyncRun.Status.FAILED, message)
        return FetchOutcome(source, SyncRun.Status.FAILED, message, run_id=run.log.pk)
    except Exception as exc:
        run.finish(SyncRun.Status.FAILED, f"Unexpected {type(exc).__name__}: {exc}")
        raise
    finally:
        if own_http:
            http.close()
    seconds = (timezone.now() - clock).total_seconds()
    message = _summary(source, mode, result)
    run.log.created_count, run.log.skipped_count = result.created, result.unchanged
    run.log.progress_done = run.log.progress_total = max(len(rates), 1)
    run.log.save(
        update_fields=["created_count", "skipped_count", "progress_done", "progress_total"]
    )
    run.finish(
        SyncRun.Status.SUCCEEDED, message, mode=mode, url=fetched.url, created=result.created,
        updated=result.updated, unchanged=result.unchanged, skipped=fetched.skipped,
        notes=list(fetched.notes), last_date=result.last_date, seconds=round(seconds, 2),
    )  # fmt: skip
    return FetchOutcome(
        source, SyncRun.Status.SUCCEEDED, message, mode, result, run.log.pk, seconds
    )


MODE_LABELS = {"daily": "daily file", "90d": "last 90 days", "hist": "full history"}


def _summary(source: str, mode: str, result: StoreResult) -> str:
    mode = MODE_LABELS.get(mode, mode)
    stored = result.created + result.updated
    if not stored:
        return f"{source} ({mode}): up to date, nothing new" + (
            f" (newest {result.last_date:%Y-%m-%d})" if result.last_date else ""
        )
    return (
        f"{source} ({mode}): {result.created:,} new and {result.updated:,} changed rates, "
        f"{result.first_date:%Y-%m-%d} to {result.last_date:%Y-%m-%d}"
    )


# --- owner overrides ---------------------------------------------------------------------


class OverrideError(ValueError):
    """An override that cannot be set or removed, with the reason."""


@transaction.atomic
def override_set(
    *, user: AbstractBaseUser, base: str, quote: str, on: date, rate: Decimal, reason: str,
) -> Rate:  # fmt: skip
    """Set the owner's rate for a pair from a date (replacing one on that date), logged."""
    base, quote = currency_validate(base), currency_validate(quote)
    if base == quote:
        raise OverrideError("An override needs two different currencies.")
    rate_validate(rate)
    reason = reason.strip()
    if not reason:
        raise OverrideError("Say why you override the rate: the reason is kept in the log.")
    if Rate.objects.filter(source=Source.MANUAL, base=quote, quote=base, date=on).exists():
        raise OverrideError(
            f"An override for {quote}/{base} on {on:%Y-%m-%d} exists; change that one."
        )
    existing = (
        Rate.objects.select_for_update()
        .filter(source=Source.MANUAL, base=base, quote=quote, date=on).first()
    )  # fmt: skip
    old_rate = existing.rate if existing else None
    override, _ = Rate.objects.update_or_create(
        source=Source.MANUAL, base=base, quote=quote, date=on,
        defaults={"rate": rate, "entered_by": user, "reason": reason, "fetched_at": timezone.now()},
    )  # fmt: skip
    OverrideLog.objects.create(
        action=OverrideLog.Action.SET, base=base, quote=quote, date=on, old_rate=old_rate,
        new_rate=rate, user=user, reason=reason,
    )  # fmt: skip
    return override


@transaction.atomic
def override_remove(*, user: AbstractBaseUser, rate_id: int, reason: str) -> None:
    """Remove an owner override; the log keeps what it was, who removed it and why."""
    reason = reason.strip()
    if not reason:
        raise OverrideError("Say why you remove the override: the reason is kept in the log.")
    override = Rate.objects.select_for_update().filter(pk=rate_id, source=Source.MANUAL).first()
    if override is None:
        raise OverrideError("That override no longer exists.")
    OverrideLog.objects.create(
        action=OverrideLog.Action.REMOVE, base=override.base, quote=override.quote,
        date=override.date, old_rate=override.rate, new_rate=None, user=user, reason=reason,
    )  # fmt: skip
    override.delete()
