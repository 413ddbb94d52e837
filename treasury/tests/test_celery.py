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


@pytest.mark.django_db
def test_the_worker_records_its_own_heartbeat_at_start_and_every_30_seconds(
    owner_client, monkeypatch
):
    """The status panel said "not seen yet" while the worker ran: beat's first heartbeat
    comes a minute after a start, and waits behind long tasks."""
    from treasury.celery import WORKER_HEARTBEAT_SECONDS, HeartbeatStep, worker_heartbeat
    from treasury.models import Heartbeat

    # In the worker it runs on the timer's own thread; here on the test's, whose database
    # connection must stay open.
    monkeypatch.setattr("django.db.close_old_connections", lambda: None)
    calls = []

    class Timer:
        def call_repeatedly(self, seconds, fn):
            calls.append((seconds, fn))
            return self

        def cancel(self):
            calls.append("cancelled")

    class Worker:
        timer = Timer()

    assert 'data-key="worker" data-level="warn"' in owner_client.get("/").content.decode()
    step = HeartbeatStep(Worker())
    step.start(Worker())
    assert Heartbeat.objects.filter(name="worker").exists()
    assert calls == [(WORKER_HEARTBEAT_SECONDS, worker_heartbeat)]
    assert 'data-key="worker" data-level="ok"' in owner_client.get("/").content.decode()
    step.stop(Worker())
    assert calls[-1] == "cancelled"
