"""The dashboard's status panel: a registry of status providers, plus the ones the cash
view owns (last successful sync per source, running syncs, rates of held currencies,
the worker's heartbeat), and the hook for "proved to <date>" per cash account.

A provider is `fn(today) -> list[StatusItem]`, registered once, usually from an
`AppConfig.ready()`:

    from treasury.cashview.status import StatusItem, register_status_provider

    def mismatches_status(today: date) -> list[StatusItem]:
        return [StatusItem("recon.open", "Open mismatches", "3", "warn", reverse(...))]

    register_status_provider(mismatches_status)

Providers run on every dashboard render, so each must cost a small constant number of
queries whatever the data (the dashboard's query-count test includes the panel). A
provider that raises is logged and shown as one error item: the panel never takes the
dashboard down. An item with `progress` set (0-100) is a job in flight: the panel shows
its bar and polls until no such item is left, then reloads the page for the new data.

Reconciliation proves balances line by line; it tells the dashboard how far with
`register_proof_provider(fn)`, where `fn(account_ids) -> {account_id: date | None}` is
called once per render for every account shown. Without a provider the dashboard shows
no proof column at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.db.models import Case, Count, F, Max, Q, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import CashAccount, SyncRun
from treasury.fx.convert import RateBook, RateMissing
from treasury.fx.models import Source
from treasury.selectors import heartbeat_last_seen

logger = logging.getLogger(__name__)

Level = Literal["ok", "warn", "error", "info"]
LEVEL_ORDER: dict[str, int] = {"error": 0, "warn": 1, "info": 2, "ok": 3}


@dataclass(frozen=True)
class StatusItem:
    key: str  # stable and unique, e.g. "sync.WISE_STATEMENTS" or "recon.open"
    label: str
    value: str  # short: "2 hours ago", "3 open", "42%"
    level: Level
    url: str | None  # where it is handled
    detail: str = ""
    progress: int | None = None  # percent of a job in flight; the panel polls while set


StatusProvider = Callable[[date], list[StatusItem]]
ProofProvider = Callable[[Sequence[int]], dict[int, date | None]]

_providers: list[StatusProvider] = []
_proof_provider: list[ProofProvider] = []  # at most one


def register_status_provider(fn: StatusProvider) -> StatusProvider:
    """Add a provider to the panel (idempotent; usable as a decorator)."""
    if fn not in _providers:
        _providers.append(fn)
    return fn


def register_proof_provider(fn: ProofProvider) -> ProofProvider:
    """Set the one provider of "proved to <date>" per cash account (a later call wins)."""
    _proof_provider[:] = [fn]
    return fn


def status_items(today: date) -> list[StatusItem]:
    """Every provider's items, in registration order."""
    items: list[StatusItem] = []
    for provider in _providers:
        try:
            items.extend(provider(today))
        except Exception:
            name = getattr(provider, "__qualname__", repr(provider))
            logger.exception("Status provider %s failed", name)
            items.append(
                StatusItem(
                    key=f"provider.{name}",
                    label=name.replace("_", " ").capitalize(),
                    value="unavailable",
                    level="error",
                    url=None,
                    detail="This check failed; the server log has the reason.",
                )
            )
    return items


def proof_dates(account_ids: Sequence[int]) -> dict[int, date | None] | None:
    """How far each account is proved, or None when no provider is registered."""
    if not _proof_provider:
        return None
    return _proof_provider[0](list(account_ids)) if account_ids else {}


def url_or_none(name: str, *args: object) -> str | None:
    """The URL of a route, or None while the app serving it is not wired yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# --- the cash view's own providers ---------------------------------------------------------


@dataclass(frozen=True)
class _Stream:
    label: str
    route: str
    stale_after: timedelta | None  # None: no schedule (files arrive when people bring them)


HOUR = timedelta(hours=1)
STREAMS: dict[tuple[str, str], _Stream] = {
    # Wise syncs run on webhooks and hourly beat entries.
    (SyncRun.Kind.WISE_BALANCES, ""): _Stream("Wise balances", "accounts:list", 6 * HOUR),
    (SyncRun.Kind.WISE_STATEMENTS, ""): _Stream("Wise statements", "accounts:list", 6 * HOUR),
    (SyncRun.Kind.FILE_IMPORT, ""): _Stream("Statement files", "statements:upload", None),
    # The ECB publishes on TARGET days: Friday's rates are the newest until Monday 16:00.
    (SyncRun.Kind.RATES, Source.ECB): _Stream("ECB rates", "fx:rates", 4 * 24 * HOUR),
    (SyncRun.Kind.RATES, Source.TREASURY): _Stream("Treasury rates", "fx:rates", 3 * 24 * HOUR),
    (SyncRun.Kind.RATES, Source.WISE): _Stream("Wise rates", "fx:rates", 24 * HOUR),
    # Push every 15 minutes, read-back hourly (treasury/celery.py).
    (SyncRun.Kind.XERO_PUSH, ""): _Stream("Xero posting", "ledger:xero", 24 * HOUR),
    (SyncRun.Kind.XERO_PULL, ""): _Stream("Xero read-back", "ledger:xero", 24 * HOUR),
}
RUNNING = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
# A run still "running" after this long was most likely killed; its stream's age shows it.
RUNNING_SHOWN_FOR = timedelta(hours=12)
RUNNING_SLOW_AFTER = timedelta(hours=1)
HEARTBEAT_LATE_AFTER = timedelta(minutes=3)  # beat sends one a minute
RATE_STALE_AFTER_DAYS = 4  # the ECB's longest regular pause is a weekend plus a holiday


def sync_status(today: date) -> list[StatusItem]:
    """Per source: when it last succeeded and how long ago, or that its last run failed
    (one grouped query). Sources that never ran are left out."""
    now = timezone.now()
    kinds = {kind for kind, _ in STREAMS}
    rows = (
        SyncRun.objects.filter(kind__in=kinds)
        .annotate(stream=Case(When(kind=SyncRun.Kind.RATES, then=F("label")), default=Value("")))
        .values("kind", "stream")
        .annotate(
            succeeded=Max("finished_at", filter=Q(status=SyncRun.Status.SUCCEEDED)),
            failed=Max("finished_at", filter=Q(status=SyncRun.Status.FAILED)),
            runs=Count("id"),
        )
        .order_by()
    )
    found = {(row["kind"], row["stream"]): row for row in rows}
    items = []
    for key, stream in STREAMS.items():
        row = found.get(key)
        if row is None:
            continue
        items.append(_sync_item(key, stream, row["succeeded"], row["failed"], now))
    return items


def _sync_item(
    key: tuple[str, str],
    stream: _Stream,
    succeeded: datetime | None,
    failed: datetime | None,
    now: datetime,
) -> StatusItem:
    item_key = "sync." + ".".join(part for part in key if part)
    url = url_or_none(stream.route)
    if failed is not None and (succeeded is None or failed > succeeded):
        since = f"last success {naturaltime(succeeded)}" if succeeded else "never succeeded"
        return StatusItem(
            item_key,
            stream.label,
            "failed",
            "error",
            url,
            f"The last run failed {naturaltime(failed)}; {since}. The page has the reason.",
        )
    if succeeded is None:
        return StatusItem(item_key, stream.label, "not yet", "info", url, "No run finished yet.")
    late = stream.stale_after is not None and now - succeeded > stream.stale_after
    detail = f"Last success {succeeded:%Y-%m-%d %H:%M} UTC."
    if late:
        detail += " Older than expected: is the worker running?"
    return StatusItem(
        item_key, stream.label, naturaltime(succeeded), "warn" if late else "ok", url, detail
    )


def running_syncs(today: date) -> list[StatusItem]:
    """Jobs queued or in flight, with their progress (one query)."""
    now = timezone.now()
    runs = SyncRun.objects.filter(
        status__in=RUNNING, started_at__gte=now - RUNNING_SHOWN_FOR
    ).order_by("-started_at")[:5]
    items = []
    for run in runs:
        stream = STREAMS.get((run.kind, run.label if run.kind == SyncRun.Kind.RATES else ""))
        slow = now - run.started_at > RUNNING_SLOW_AFTER
        done = f"{run.progress_done:,} of {run.progress_total:,}" if run.progress_total else ""
        detail = f"{run.get_status_display()} since {naturaltime(run.started_at)}"
        detail += f" · {done}" if done else ""
        detail += f" · {run.label}" if run.label and run.kind != SyncRun.Kind.RATES else ""
        items.append(
            StatusItem(
                key=f"running.{run.pk}",
                label=stream.label if stream else run.get_kind_display(),
                value=f"{run.percent}%",
                level="warn" if slow else "info",
                url=url_or_none(stream.route) if stream else None,
                detail=detail,
                progress=run.percent,
            )
        )
    return items


def rates_status(today: date) -> list[StatusItem]:
    """Whether today's total can be converted: a rate of the default source for every
    held currency into the base currency, and how old it is (two queries)."""
    base = settings.BASE_CURRENCY
    held = set(
        CashAccount.objects.filter(is_active=True)
        .order_by()
        .values_list("currency", flat=True)
        .distinct()
    )
    foreign = sorted(held - {base})
    if not foreign:
        return []
    book = RateBook.load(source=Source.ECB, currencies={*foreign, base}, on=today)
    missing, stale, dates = [], [], []
    for code in foreign:
        try:
            conversion = book.rate(code, base, on=today)
        except RateMissing:
            missing.append(code)
            continue
        dates.append(conversion.rate_date)
        if (today - conversion.rate_date).days > RATE_STALE_AFTER_DAYS:
            stale.append(f"{code} ({conversion.rate_date:%Y-%m-%d})")
    url = url_or_none("fx:rates")
    if missing:
        return [
            StatusItem(
                "rates.missing",
                "Rates for your currencies",
                f"missing for {', '.join(missing)}",
                "error",
                url,
                f"No ECB rate into {base} within {book.window_days} days of {today:%Y-%m-%d}: "
                f"totals leave {'it' if len(missing) == 1 else 'them'} out. Fetch rates.",
            )
        ]
    if stale:
        return [
            StatusItem(
                "rates.stale",
                "Rates for your currencies",
                f"stale for {', '.join(stale)}",
                "warn",
                url,
                "The newest ECB rate is older than expected. Fetch rates.",
            )
        ]
    return [
        StatusItem(
            "rates.ok",
            "Rates for your currencies",
            f"ECB {min(dates):%Y-%m-%d}",
            "ok",
            url,
            f"{', '.join(foreign)} into {base}.",
        )
    ]


def worker_status(today: date) -> list[StatusItem]:
    """The background worker's heartbeat (beat sends one a minute; one query)."""
    seen = heartbeat_last_seen(name="worker")
    if seen is None:
        return [
            StatusItem(
                "worker",
                "Background worker",
                "not seen yet",
                "warn",
                None,
                "Syncs, rates and posting run in the worker: start it with `make run`.",
            )
        ]
    late = timezone.now() - seen > HEARTBEAT_LATE_AFTER
    return [
        StatusItem(
            "worker",
            "Background worker",
            f"seen {naturaltime(seen)}",
            "warn" if late else "ok",
            None,
            "No heartbeat for a while: are the worker and beat running?" if late else "",
        )
    ]


OWN_PROVIDERS: tuple[StatusProvider, ...] = (
    sync_status,
    running_syncs,
    rates_status,
    worker_status,
)
