"""Celery tasks of the FBAR monitor: call a service. The daily schedule is in
`treasury/celery.py`; syncs and the FBAR pages enqueue a run after they change balances."""

from typing import Any

from celery import shared_task
from django.core.cache import cache

from treasury.fbar.services import MONITOR_QUEUED_KEY, fbar_monitor_run


@shared_task(name="fbar.monitor_run", acks_late=True, soft_time_limit=120, time_limit=180)
def monitor_run() -> dict[str, Any]:
    """Recompute this year and last year (whose filing the dashboard follows), store the
    results for the dashboard, and send any threshold alert not sent yet."""
    cache.delete(MONITOR_QUEUED_KEY)  # changes from now on queue another run
    result = fbar_monitor_run()
    return {
        "years": {str(y.year): y.aggregate_usd for y in result.years},
        "alerts_sent": [f"{a.year}:{a.percent}" for a in result.alerts_sent],
    }
