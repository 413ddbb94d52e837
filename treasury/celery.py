"""The Celery app and every periodic task Bulwark runs.

Defaults (JSON only, `acks_late`, time limits, prefetch 1) live in settings under the
`CELERY_` prefix. Each beat entry below says why it runs when it does; a task named
here is a stable string, so renaming a function never orphans a schedule.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "treasury.settings")

app = Celery("bulwark")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

MINUTE = 60.0

app.conf.beat_schedule = {
    # A heartbeat the status panel reads: proves beat and a worker are both alive.
    "heartbeat": {"task": "treasury.heartbeat", "schedule": MINUTE},
    # New lines are categorized by a task enqueued when their ingest commits; if the
    # broker was unreachable then, that task is lost. This sweep finds lines no rule run
    # has seen (one indexed query when there are none) soon enough to precede posting.
    "rules-apply-unseen": {"task": "rules.apply_unseen", "schedule": 10 * MINUTE},
}
