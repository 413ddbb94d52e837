"""QuickBooks Online's per-company limits, kept on Bulwark's side of the wire.

Intuit allows 500 requests a minute per company (batch requests included), 120 batch
requests a minute, and 10 requests in flight per app and company; past them it answers
429. The client asks a `Limiter` for a slot before every call, so it waits instead of
spending calls on certain 429s. `SharedLimiter` keeps the counts in Redis, for every
process on every host (`REDIS_URL` set: `limiter_default`); `InProcessLimiter` keeps them
in this process (threads share it), for the embedded single-machine mode.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from treasury import limits

PER_MINUTE = 500
BATCH_PER_MINUTE = 120
CONCURRENT = 10
WINDOW_SECONDS = 60.0
# A call holds its concurrency slot at most this many HTTP timeouts: the slot of a process
# killed mid-call frees itself then, never under a live call.
SLOT_TTL_FACTOR = 4


class Limiter(Protocol):
    def slot(self, realm_id: str, *, batch: bool) -> AbstractContextManager[None]:
        """Wait until a call may start (minute budgets, a free concurrency slot); the
        slot is held until the context ends."""
        ...

    def throttled(self, realm_id: str, *, wait_seconds: float) -> None:
        """The service answered 429: no call for this company before `wait_seconds`."""
        ...


@dataclass
class _Realm:
    calls: deque[float] = field(default_factory=deque)
    batches: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    paused_until: float = 0.0


class InProcessLimiter:
    """Sliding one-minute windows and a counting semaphore per company, in this process."""

    def __init__(
        self,
        *,
        per_minute: int = PER_MINUTE,
        batch_per_minute: int = BATCH_PER_MINUTE,
        concurrent: int = CONCURRENT,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute, self.batch_per_minute = per_minute, batch_per_minute
        self.concurrent, self.window = concurrent, window_seconds
        self.clock, self.sleep = clock, sleep
        self.waited_seconds = 0.0
        self._realms: dict[str, _Realm] = {}
        self._condition = threading.Condition()

    @contextmanager
    def slot(self, realm_id: str, *, batch: bool) -> Iterator[None]:
        realm = self._acquire(realm_id, batch)
        try:
            yield
        finally:
            with self._condition:
                realm.in_flight -= 1
                self._condition.notify_all()

    def throttled(self, realm_id: str, *, wait_seconds: float) -> None:
        with self._condition:
            realm = self._realms.setdefault(realm_id, _Realm())
            realm.paused_until = max(realm.paused_until, self.clock() + wait_seconds)

    def _acquire(self, realm_id: str, batch: bool) -> _Realm:
        while True:
            with self._condition:
                realm = self._realms.setdefault(realm_id, _Realm())
                now = self.clock()
                for window in (realm.calls, realm.batches):
                    while window and window[0] <= now - self.window:
                        window.popleft()
                wait = max(realm.paused_until - now, 0.0)
                if len(realm.calls) >= self.per_minute:
                    wait = max(wait, realm.calls[0] + self.window - now)
                if batch and len(realm.batches) >= self.batch_per_minute:
                    wait = max(wait, realm.batches[0] + self.window - now)
                if wait <= 0 and realm.in_flight < self.concurrent:
                    realm.calls.append(now)
                    if batch:
                        realm.batches.append(now)
                    realm.in_flight += 1
                    return realm
                if wait <= 0:  # only the concurrency cap holds: wait for a slot to free
                    self._condition.wait(timeout=1.0)
                    continue
            self.waited_seconds += wait
            self.sleep(wait)


class SharedLimiter:
    """The same minute windows and concurrency cap, counted in Redis by every host."""

    def __init__(self, *, slot_ttl: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.windows = {"calls": (PER_MINUTE, WINDOW_SECONDS),
                        "batches": (BATCH_PER_MINUTE, WINDOW_SECONDS)}  # fmt: skip
        self.slot_ttl, self.sleep = slot_ttl, sleep
        self.waited_seconds = 0.0

    def _windows(self, realm_id: str) -> limits.RedisWindows:
        return limits.RedisWindows(f"quickbooks:{realm_id}", self.windows)

    @contextmanager
    def slot(self, realm_id: str, *, batch: bool) -> Iterator[None]:
        windows = self._windows(realm_id)
        while (wait := windows.take(*(("calls", "batches") if batch else ("calls",)))) > 0:
            self.waited_seconds += wait
            self.sleep(wait)
        slots = limits.RedisSemaphore(f"quickbooks:{realm_id}", CONCURRENT, ttl=self.slot_ttl)
        with slots.slot():
            yield

    def throttled(self, realm_id: str, *, wait_seconds: float) -> None:
        self._windows(realm_id).pause(wait_seconds)


def limiter_default(*, timeout: float, sleep: Callable[[float], None] = time.sleep) -> Limiter:
    """Shared across hosts when Redis is configured, else this client's own counts."""
    if limits.shared():
        return SharedLimiter(slot_ttl=SLOT_TTL_FACTOR * timeout, sleep=sleep)
    return InProcessLimiter(sleep=sleep)
