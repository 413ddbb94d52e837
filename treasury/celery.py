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
    # Wise balances every 15 minutes: the accounts page and the cash view show balances
    # minutes old, at 4 calls an hour per profile (far inside Wise's 1,000 a minute).
    "wise-balances": {"task": "accounts.sync_wise_balances", "schedule": 15 * MINUTE},
    # Wise statements hourly, one task per balance: webhooks bring lines in near real
    # time, so this is the safety net for missed deliveries and late-booked lines (each
    # sync re-reads an overlap) and proves every balance at least once an hour.
    "wise-statements": {"task": "accounts.sync_wise_statements", "schedule": 60 * MINUTE},
}
