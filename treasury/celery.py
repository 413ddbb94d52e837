"""The Celery app and every periodic task Bulwark runs.

Defaults (JSON only, `acks_late`, time limits, prefetch 1) live in settings under the
`CELERY_` prefix. Each beat entry below says why it runs when it does; a task named
here is a stable string, so renaming a function never orphans a schedule.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "treasury.settings")

app = Celery("bulwark")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

MINUTE = 60.0

app.conf.beat_schedule = {
    # A heartbeat the status panel reads: proves beat and a worker are both alive.
    "heartbeat": {"task": "treasury.heartbeat", "schedule": MINUTE},
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
    # Reconcile everything nightly, after the day's last syncs: runs after each Wise sync
    # and Xero read-back cover only what changed then, and a broker outage at that moment
    # would lose them. 02:30 is quiet and after midnight, so yesterday's balances are in.
    "reconcile-nightly": {
        "task": "reconciliation.run_all",
        "schedule": crontab(hour=2, minute=30),
    },
}
