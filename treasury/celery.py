"""The Celery app and every periodic task Bulwark runs.

Defaults (JSON only, `acks_late`, time limits, prefetch 1) live in settings under the
`CELERY_` prefix. Each beat entry below says why it runs when it does; a task named
here is a stable string, so renaming a function never orphans a schedule.
"""

import logging
import os
from typing import Any

from celery import Celery, bootsteps
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "treasury.settings")

app = Celery("bulwark")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

MINUTE = 60.0
WORKER_HEARTBEAT_SECONDS = 30.0
logger = logging.getLogger(__name__)


def worker_heartbeat() -> None:
    """Record that the worker process is alive (its main process, so a pool busy with
    long tasks does not make it look gone)."""
    from django.db import close_old_connections

    from treasury.services import heartbeat_record

    try:
        close_old_connections()
        heartbeat_record(name="worker")
    except Exception:  # a missed heartbeat must never stop the worker
        logger.exception("Could not record the worker's heartbeat")


class HeartbeatStep(bootsteps.StartStopStep):
    """The worker's own heartbeat: once when it starts (so the status panel does not say
    "not seen yet" while it runs), then every 30 s from the worker's timer."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        worker_heartbeat()
        self.tref = parent.timer.call_repeatedly(WORKER_HEARTBEAT_SECONDS, worker_heartbeat)

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()


app.steps["worker"].add(HeartbeatStep)

app.conf.beat_schedule = {
    # A heartbeat through the queue, once a minute: proves beat schedules and a worker
    # takes tasks. The worker also records its own every 30 s (HeartbeatStep), so a
    # pool busy with long tasks, or the first minute after a start, is not "not seen".
    "heartbeat": {"task": "treasury.heartbeat", "schedule": MINUTE},
    # Runs left RUNNING by a killed process (SIGKILL, OOM, a restart) are marked
    # interrupted and queued again: every minute, so nothing waits on a lease's expiry
    # or on Redis' visibility timeout. One query when nothing is running.
    "runs-sweep": {"task": "accounts.runs_sweep", "schedule": MINUTE},
    # Post new Wise lines to Xero every 15 minutes: fresh enough for the books, and even
    # a busy day's lines fit in a handful of batched calls, far inside 60 a minute.
    # Does nothing in audit-only mode or while paused for the day budget.
    "xero-push": {"task": "ledger.xero_push_all", "schedule": 15 * MINUTE},
    # Read the books back hourly: Xero sends no webhooks for bank transactions,
    # transfers or payments, and If-Modified-Since keeps each poll to a few calls.
    # Wise's own feed syncs every 4 h, so hourly catches its lines well within a cycle.
    "xero-pull": {"task": "ledger.xero_pull_all", "schedule": 60 * MINUTE},
    # New lines are categorized by a task enqueued when their ingest commits; if the
    # broker was unreachable then, that task is lost. This sweep finds lines no rule run
    # has seen (one indexed query when there are none) soon enough to precede posting.
    "rules-apply-unseen": {"task": "rules.apply_unseen", "schedule": 10 * MINUTE},
    # The ECB publishes at about 16:00 CET on TARGET days. Hourly, because crontab hours
    # follow TIME_ZONE, not Frankfurt's; the task asks nothing of the ECB until a day it
    # does not hold is due (after 16:30 Europe/Berlin), so the first run after
    # publication fetches and the others cost one query.
    "fx-ecb": {"task": "fx.fetch_ecb_when_published", "schedule": crontab(minute=20)},
    # Treasury reports are quarterly with amendments at any time: a daily look (one
    # small filtered query) finds an amendment within a day.
    "fx-treasury": {"task": "fx.fetch_treasury", "schedule": crontab(hour=6, minute=40)},
    # Wise mid-market rates move all day: hourly while connected (skipped without a
    # request otherwise).
    "fx-wise": {"task": "fx.fetch_wise", "schedule": crontab(minute=5)},
    # Wise balances every 15 minutes: the accounts page and the cash view show balances
    # minutes old, at 4 calls an hour per profile (far inside Wise's 1,000 a minute).
    "wise-balances": {"task": "accounts.sync_wise_balances", "schedule": 15 * MINUTE},
    # Wise statements hourly, one task per balance: webhooks bring lines in near real
    # time, so this is the safety net for missed deliveries and late-booked lines (each
    # sync re-reads an overlap) and proves every balance at least once an hour.
    "wise-statements": {"task": "accounts.sync_wise_statements", "schedule": 60 * MINUTE},
    # FBAR monitor, daily after the Treasury look (06:40), so a new or amended report
    # prices the day's run. Syncs and the FBAR pages also queue a run when balances
    # change; this one catches a day without syncs (a new year, a rate, a missed task)
    # and keeps the dashboard's stored figures at most a day old.
    "fbar-monitor": {"task": "fbar.monitor_run", "schedule": crontab(hour=7, minute=10)},
    # ConnectWise announces invoice changes by callback; this incremental sync per
    # connection is the safety net for a callback lost or never registered (and queues
    # again a refresh whose task was lost). Every 15 minutes: a quiet tenant costs 5
    # calls a poll, far inside ConnectWise's ~1,000 a minute.
    "connectwise-poll": {"task": "operations.connectwise_poll", "schedule": 15 * MINUTE},
    # Reconcile everything nightly, after the day's last syncs: runs after each Wise sync
    # and Xero read-back cover only what changed then, and a broker outage at that moment
    # would lose them. 02:30 is quiet and after midnight, so yesterday's balances are in.
    "reconcile-nightly": {
        "task": "reconciliation.run_all",
        "schedule": crontab(hour=2, minute=30),
    },
    # File each Wise balance's statement of the month just ended (PDF and CAMT.053) and
    # prove it against the record: daily at 03:15, after the nightly reconciliation, so
    # the month's late lines are in; each run also re-reads the month before (a missed
    # month end is caught) and files nothing it already holds.
    "archive-month-end": {
        "task": "archive.month_end_file",
        "schedule": crontab(hour=3, minute=15),
    },
    # The watched folder (ARCHIVE_WATCH_DIR), every 5 minutes: a scanned receipt is filed
    # while its paper is still at hand; one directory listing when nothing is there.
    "archive-watch-folder": {"task": "archive.watch_folder", "schedule": 5 * MINUTE},
}
