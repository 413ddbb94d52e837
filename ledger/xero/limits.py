"""Xero's per-organisation limits, kept on Bulwark's side of the wire.

- **Concurrency**: at most `XERO_CONCURRENCY` (5) calls in flight per organisation, held
  by every process on every host: slots in Redis when `REDIS_URL` is set, else `flock`ed
  files under `var/` (the processes of one machine); see `treasury.limits`.
- **Minute budget**: shared, every host's calls go through one sliding window of
  `XERO_MINUTE_LIMIT` (60) calls a minute, and a 429's `Retry-After` pauses them all.
  Embedded, every reply's `X-MinLimit-Remaining` is remembered; at zero the next call
  waits until the window Bulwark observed (from its first call in it) is over, rather
  than spend a call on a certain 429.
- **Day budget**: when `X-DayLimit-Remaining` falls to `XERO_DAY_RESERVE`, work stops
  cleanly (`DayBudgetLow`) and resumes on a later run; the reserve leaves room for the
  owner's own pages and the read-back. Shared, the last figure Xero gave any host is
  counted down by every call any host starts, so concurrent runs stop together.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from treasury import limits
from treasury.limits import FileSemaphore

# Length of Xero's per-minute window; a module constant so tests can shorten it.
MINUTE_SECONDS = 60.0


class DayBudgetLow(Exception):
    """The day's remaining calls fell to the reserve: stop now, resume later."""

    def __init__(self, remaining: int, retry_after: int | None = None) -> None:
        self.remaining = remaining
        self.retry_after = retry_after
        super().__init__(f"Xero's daily call budget is low ({remaining} calls left)")


class ConcurrencySlots(FileSemaphore):
    """The embedded mode's slots of one organisation: lock files under `directory`."""

    def __init__(self, directory: Path, tenant_id: str, size: int) -> None:
        super().__init__(directory / re.sub(r"[^\w-]", "_", tenant_id or "custom"), size)


class SharedCounts:
    """One organisation's minute window and day budget in Redis, counted by every host."""

    def __init__(self, tenant_id: str, *, minute_limit: int, day_reserve: int) -> None:
        name = f"xero:{tenant_id or 'custom'}"
        self.windows = limits.RedisWindows(name, {"minute": (minute_limit, MINUTE_SECONDS)})
        self.day = limits.RedisDayBudget(name, reserve=day_reserve)


@dataclass
class Budget:
    """What Xero last said about this organisation's budget, and what we counted."""

    day_reserve: int
    minute_remaining: int | None = None
    day_remaining: int | None = None
    calls: int = 0
    retries_429: int = 0
    waited_seconds: float = 0.0
    window_started: float | None = None
    shared: SharedCounts | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before_call(self, sleep: object = time.sleep) -> None:
        with self.lock:
            if self.day_remaining is not None and self.day_remaining <= self.day_reserve:
                raise DayBudgetLow(self.day_remaining)
        if self.shared is not None:
            self._shared_before_call(self.shared, sleep)
            return
        with self.lock:
            wait = 0.0
            if self.minute_remaining is not None and self.minute_remaining <= 0:
                started = self.window_started or time.monotonic()
                wait = max(started + MINUTE_SECONDS - time.monotonic(), 0.0)
                self.minute_remaining, self.window_started = None, None
            now = time.monotonic()
            if self.window_started is None or now - self.window_started >= MINUTE_SECONDS:
                self.window_started = now + wait
            self.calls += 1
        if wait:
            self.waited_seconds += wait
            sleep(wait)  # type: ignore[operator]

    def _shared_before_call(self, shared: SharedCounts, sleep: object) -> None:
        """Every host's calls in one minute window and one day count. A client's first
        call is not refused on the shared day count: it learns the day afresh, as a new
        run of the embedded mode does (the organisation's pause spares the calls)."""
        if self.day_remaining is not None:
            left = shared.day.take()
            if left is not None:
                raise DayBudgetLow(left)
        while (wait := shared.windows.take()) > 0:
            self.waited_seconds += wait
            sleep(wait)  # type: ignore[operator]
        with self.lock:
            self.calls += 1

    def throttled(self, seconds: float) -> None:
        """Xero answered a minute 429 with `Retry-After`: every host waits that long."""
        if self.shared is not None:
            self.shared.windows.pause(seconds)

    def after_reply(self, headers: dict[str, str] | object) -> None:
        get = getattr(headers, "get", None)
        if get is None:
            return
        with self.lock:
            for header, name in (
                ("X-MinLimit-Remaining", "minute_remaining"),
                ("X-DayLimit-Remaining", "day_remaining"),
            ):
                value = get(header)
                if value is not None and str(value).strip().lstrip("-").isdigit():
                    setattr(self, name, int(value))
            day = self.day_remaining if get("X-DayLimit-Remaining") is not None else None
        if self.shared is not None and day is not None:
            self.shared.day.report(day)
