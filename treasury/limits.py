"""Limits shared by every process that calls a provider for one organisation.

A provider's caps (calls in flight, calls a minute, calls a day) hold per organisation, not
per process, so every Bulwark process on every host must count against the same figures:

- **Shared** (`REDIS_URL` set, the production shape): the counts live in Redis, under
  `BULWARK_REDIS_PREFIX`. A slot of a `RedisSemaphore` is a holder token in a sorted set,
  scored by its expiry, so a slot of a killed holder frees itself when its TTL passes; a
  minute window is a sliding log of admissions; a pause ("no call before ...") and a day's
  remaining calls are plain expiring keys. Every check-and-take is one Lua script using
  Redis's own clock, so hosts with skewed clocks agree.
- **Embedded** (no `REDIS_URL`, one machine): slots are `flock`ed files under
  `BULWARK_VAR_DIR` (processes of that machine share it), the windows are counted in the
  process. Two hosts, or containers with separate `var/` directories, must not run this way.

Leases (one push, one sync, one token refresh at a time) are rows in the database instead:
PostgreSQL is shared by every host already, a lease there is durable across a Redis restart
and is taken in the same transaction as the work it guards (see `accounts.runs`).
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.conf import settings

if TYPE_CHECKING:
    import redis

POLL_SECONDS = 0.02


class Semaphore(Protocol):
    def slot(self, timeout: float = 120.0) -> AbstractContextManager[object]:
        """Wait (up to `timeout`) for one of the slots; held until the context ends."""
        ...


def shared() -> bool:
    """Whether the limits live in Redis (`REDIS_URL`), rather than on this machine."""
    return bool(settings.REDIS_URL)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name or "custom")


class FileSemaphore:
    """A counting semaphore over `size` lock files: valid across the processes of one
    machine that share `directory` (a killed holder's `flock` is released by the kernel)."""

    def __init__(self, directory: Path, size: int) -> None:
        self.directory = directory
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
                raise TimeoutError(f"No slot of {self.directory.name} became free")
            time.sleep(POLL_SECONDS)


# --- Redis ----------------------------------------------------------------------------------

_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)"

# KEYS[1] holders (zset token -> expiry ms); ARGV size, ttl ms, token. 1 when taken.
_SLOT_TAKE = f"""{_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0"""

# KEYS[1] the pause key, KEYS[2..] windows (zset member -> admitted ms); ARGV token, then
# (window ms, limit) per window. 0 when admitted into every window, else ms to wait.
_WINDOWS_TAKE = f"""{_NOW_MS}
local wait = redis.call('PTTL', KEYS[1])
if wait > 0 then return wait end
for i = 2, #KEYS do
  local span, limit = tonumber(ARGV[2 * i - 2]), tonumber(ARGV[2 * i - 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + span - now, 1)
  end
end
if wait > 0 then return wait end
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2 * i - 2])
end
return 0"""

# KEYS[1] remaining calls; ARGV reserve. -1 when a call may start (counted), else remaining.
_DAY_TAKE = """local left = redis.call('GET', KEYS[1])
if not left then return -1 end
if tonumber(left) <= tonumber(ARGV[1]) then return tonumber(left) end
redis.call('DECR', KEYS[1])
return -1"""

_clients: dict[int, redis.Redis] = {}


def redis_client() -> redis.Redis:
    """This process's connection pool to `REDIS_URL` (a forked child opens its own)."""
    import redis

    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()
        _clients[pid] = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=5
        )
    return _clients[pid]


def key(*parts: str) -> str:
    return ":".join([settings.BULWARK_REDIS_PREFIX, "limits", *map(_safe, parts)])


class RedisSemaphore:
    """`size` slots shared by every host; a holder's slot expires after `ttl` seconds (set
    it above the longest call: a killed holder blocks its slot at most that long)."""

    def __init__(self, name: str, size: int, *, ttl: float) -> None:
        self.key, self.size, self.ttl_ms = key(name, "slots"), size, int(ttl * 1000)
        self._take = redis_client().register_script(_SLOT_TAKE)

    @contextmanager
    def slot(self, timeout: float = 120.0) -> Iterator[str]:
        token = f"{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(6)}"
        deadline = time.monotonic() + timeout
        while not self._take(keys=[self.key], args=[self.size, self.ttl_ms, token]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"No slot of {self.key} became free")
            time.sleep(POLL_SECONDS)
        try:
            yield token
        finally:
            redis_client().zrem(self.key, token)


class RedisWindows:
    """Sliding windows ("at most `limit` calls in `seconds`") and a pause, shared by every
    host: `take()` admits a call into all of them at once, or says how long to wait."""

    def __init__(self, name: str, windows: dict[str, tuple[int, float]]) -> None:
        self.name, self.windows = name, windows
        self.pause_key = key(name, "pause")
        self._take = redis_client().register_script(_WINDOWS_TAKE)

    def take(self, *only: str) -> float:
        """Seconds to wait (0: admitted, counted in the windows named, or in all)."""
        names = only or tuple(self.windows)
        keys, args = [self.pause_key], [f"{os.getpid()}-{secrets.token_hex(8)}"]
        for window in names:
            limit, seconds = self.windows[window]
            keys.append(key(self.name, "window", window))
            args += [int(seconds * 1000), limit]
        return int(self._take(keys=keys, args=args)) / 1000

    def pause(self, seconds: float) -> None:
        """No call before `seconds` from now (a longer pause already set is kept)."""
        milliseconds = max(int(seconds * 1000), 1)
        remaining = redis_client().pttl(self.pause_key)
        if remaining < milliseconds:
            redis_client().set(self.pause_key, 1, px=milliseconds)


class RedisDayBudget:
    """A day's remaining calls as the provider last reported it, counted down by each call
    any host starts, so hosts stop together at the reserve."""

    def __init__(self, name: str, *, reserve: int) -> None:
        self.key, self.reserve = key(name, "day-remaining"), reserve
        self._take = redis_client().register_script(_DAY_TAKE)

    def take(self) -> int | None:
        """None when a call may start, else the remaining calls (at or below the reserve)."""
        left = int(self._take(keys=[self.key], args=[self.reserve]))
        return None if left < 0 else left

    def report(self, remaining: int) -> None:
        """What the provider said; forgotten after a day, when its budget starts afresh."""
        redis_client().set(self.key, remaining, ex=86400)


def semaphore(name: str, size: int, *, ttl: float) -> Semaphore:
    """`size` slots named `name`: in Redis when shared, else lock files under var/."""
    if shared():
        return RedisSemaphore(name, size, ttl=ttl)
    return FileSemaphore(Path(settings.VAR_DIR) / "slots" / _safe(name), size)


def shared_forget(pattern: str = "*") -> int:
    """Drop the shared counts whose key (after the prefix) matches `pattern` (a glob): all
    of this deployment's by default (tests; a reset by hand)."""
    if not shared():
        return 0
    client = redis_client()
    match = f"{settings.BULWARK_REDIS_PREFIX}:limits:{pattern}"
    names = list(client.scan_iter(match=match, count=500))
    return client.delete(*names) if names else 0
