"""The shared limits' primitives in Redis: a killed holder's slot frees itself after its
TTL (and not before), a sliding window admits `limit` calls per span and says how long
to wait, a pause holds every caller, and the day budget stops at its reserve."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings

from treasury import limits

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="the shared limits live in Redis: set REDIS_URL, as CI does",
)

HOLDER = """
from treasury import limits
with limits.RedisSemaphore("test:killed", 1, ttl=1.5).slot():
    print("held", flush=True)
    import time
    time.sleep(600)
"""


def test_a_killed_holders_slot_frees_itself_after_its_ttl():
    holder = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", HOLDER],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        killed_at = time.monotonic()
        slots = limits.RedisSemaphore("test:killed", 1, ttl=1.5)
        with pytest.raises(TimeoutError), slots.slot(timeout=0.3):
            pass
        with slots.slot(timeout=5):
            freed_after = time.monotonic() - killed_at
    finally:
        if holder.poll() is None:
            holder.kill()
    assert 0.3 < freed_after < 3


def test_slots_count_every_holder_and_free_on_exit():
    slots = limits.RedisSemaphore("test:count", 2, ttl=30)
    with slots.slot(), slots.slot(), pytest.raises(TimeoutError), slots.slot(timeout=0.1):
        pass
    with slots.slot(), slots.slot():
        pass


def test_a_window_admits_its_limit_then_says_how_long_to_wait():
    windows = limits.RedisWindows("test:window", {"second": (3, 1.0), "minute": (100, 60.0)})
    assert [windows.take() for _ in range(3)] == [0, 0, 0]
    wait = windows.take()
    assert 0 < wait <= 1.0
    assert windows.take("minute") == 0  # only the window named counts the call
    time.sleep(wait)
    assert windows.take() == 0


def test_a_pause_holds_every_caller_and_a_shorter_one_does_not_shorten_it():
    windows = limits.RedisWindows("test:pause", {"minute": (100, 60.0)})
    windows.pause(2.0)
    windows.pause(0.5)
    assert 1.5 < windows.take() <= 2.0


def test_the_day_budget_counts_down_to_its_reserve():
    day = limits.RedisDayBudget("test:day", reserve=3)
    assert day.take() is None  # nothing reported yet: the call goes, and learns the figure
    day.report(5)
    assert [day.take(), day.take()] == [None, None]
    assert day.take() == 3
    day.report(4000)
    assert day.take() is None


def test_forgetting_drops_only_this_prefixs_counts():
    other = f"{settings.BULWARK_REDIS_PREFIX}-other:limits:kept"
    limits.redis_client().set(other, 1)
    limits.RedisWindows("test:forget", {"minute": (1, 60.0)}).take()
    try:
        assert limits.shared_forget() >= 1
        assert limits.redis_client().get(other) == b"1"
    finally:
        limits.redis_client().delete(other)
