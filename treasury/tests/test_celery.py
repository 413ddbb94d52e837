"""A real Celery worker process answers a task: on Redis when REDIS_URL is set, else on
the embedded filesystem broker."""

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from treasury.celery import app
from treasury.tasks import ping


def test_broker_is_redis_exactly_when_redis_url_is_set():
    if os.environ.get("REDIS_URL"):
        assert app.conf.broker_url.startswith("redis://")
    else:
        assert app.conf.broker_url == "filesystem://"
        assert app.conf.result_backend.startswith("file://")


def test_task_defaults_are_safe():
    assert app.conf.task_acks_late is True
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit


def test_a_killed_workers_task_comes_back_within_the_longest_task(settings):
    """Redis redelivers an unacknowledged task after its visibility timeout: sized to the
    hard time limit (plus a minute), not the hour it was; the embedded broker keeps
    unacknowledged messages on disk (treasury.broker)."""
    options = app.conf.broker_transport_options
    if settings.REDIS_URL:
        assert options["visibility_timeout"] == app.conf.task_time_limit + 60
    else:
        assert app.conf.broker_transport == "treasury.broker:Transport"
        assert options["unacked_folder"].endswith("unacked")
    assert "runs-sweep" in app.conf.beat_schedule


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, name


@pytest.mark.slow
def test_worker_round_trip():
    queue = f"test-{uuid.uuid4().hex[:8]}"  # so a developer's own worker never takes it
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "treasury", "worker", "--pool", "solo",
            "--queues", queue, "--loglevel", "WARNING", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        ],
        cwd=settings.BASE_DIR,
        env=os.environ.copy(),
    )  # fmt: skip
    try:
        result = ping.apply_async(args=["round-trip"], queue=queue)
        answer = result.get(timeout=90)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert answer == {"echo": "round-trip", "worker_pid": str(worker.pid)}
