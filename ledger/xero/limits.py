"""Xero's per-organisation limits, kept on Bulwark's side of the wire.

- **Concurrency**: at most `XERO_CONCURRENCY` (5) calls in flight per organisation. The
  slots are `flock`ed files under `var/xero-slots/<tenant>/`, so the cap holds across
  threads *and* processes on one host (web, worker and beat share `var/`). Several hosts
  would need a shared lock service; Bulwark's deployment has one worker host.
- **Minute budget**: every reply's `X-MinLimit-Remaining` is remembered; at zero the next
  call waits until the window Bulwark observed (from its first call in it) is over,
  rather than spend a call on a certain 429.
- **Day budget**: when `X-DayLimit-Remaining` falls to `XERO_DAY_RESERVE`, work stops
  cleanly (`DayBudgetLow`) and resumes on a later run; the reserve leaves room for the
  owner's own pages and the read-back.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Length of Xero's per-minute window; a module constant so tests can shorten it.
MINUTE_SECONDS = 60.0


class DayBudgetLow(Exception):
    """The day's remaining calls fell to the reserve: stop now, resume later."""

    def __init__(self, remaining: int, retry_after: int | None = None) -> None:
        self.remaining = remaining
        self.retry_after = retry_after
        super().__init__(f"Xero's daily call budget is low ({remaining} calls left)")


class ConcurrencySlots:
    """A counting semaphore over `size` lock files, valid across processes."""

    def __init__(self, directory: Path, tenant_id: str, size: int) -> None:
        safe = re.sub(r"[^\w-]", "_", tenant_id or "custom")
        self.directory = directory / safe
        self.directory.mkdir(parents=True, exist_ok=True)
        self.size = size

    @contextmanager
    def slot(self, timeout: float = 120.0) -> Iterator[int]:
        deadline = time.monotonic() + timeout
        while True:
            for number in range(self.size):
                path = self.directory / f"slot-{number}.lock"
                descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(descriptor)
                    continue
                try:
                    yield number
                finally:
                    fcntl.flock(descriptor, fcntl.LOCK_UN)
                    os.close(descriptor)
                return
            if time.monotonic() > deadline:
                raise TimeoutError("No Xero call slot became free")
            time.sleep(0.02)


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
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before_call(self, sleep: object = time.sleep) -> None:
        with self.lock:
            if self.day_remaining is not None and self.day_remaining <= self.day_reserve:
                raise DayBudgetLow(self.day_remaining)
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
