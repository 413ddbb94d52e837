"""Real Celery workers for crash tests: a subprocess on this test process's database and
broker (the embedded one, or Redis when REDIS_URL is set) and its own queue, killed
with SIGKILL the way the OOM killer or `docker kill` would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.db import connection as db

from treasury.celery import app

# Tests of two hosts: their processes share nothing but PostgreSQL and Redis.
two_hosts = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres")),
    reason="two hosts share only PostgreSQL and Redis: set DATABASE_URL (postgres://) and "
    "REDIS_URL, as CI does",
)


def database_url() -> str:
    """The test database, as a URL a subprocess's settings read."""
    conf = db.settings_dict
    if db.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


class Worker:
    """One `celery worker --pool solo` (the task runs in the process that is killed)."""

    def __init__(self, **env: str) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "treasury", "worker", "--pool", "solo",
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DATABASE_URL": database_url(), **env},
            start_new_session=True,  # its own process group: killed whole
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL, no chance to clean up, then reaped (so its pid is really gone)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()


@contextmanager
def workers(**env: str) -> Iterator[Callable[[], Worker]]:
    """Start workers on this process's queue (emptied first); all stopped at the end."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    started: list[Worker] = []

    def start() -> Worker:
        started.append(Worker(**env))
        return started[-1]

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def pid_gone() -> int:
    """A pid that ran a process here and runs nothing now (its process exited)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def wait_for(check: Callable[[], Any], *, timeout: float = 90, what: str = "") -> Any:
    """Poll `check` (a database read) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")
