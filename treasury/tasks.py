from celery import shared_task

from treasury.services import heartbeat_record


@shared_task(name="treasury.heartbeat", ignore_result=True)
def heartbeat() -> None:
    heartbeat_record(name="worker")


@shared_task(name="treasury.ping")
def ping(value: str) -> dict[str, str]:
    """Round-trip probe used by tests and `manage.py doctor`: proves a worker answers."""
    import os

    return {"echo": value, "worker_pid": str(os.getpid())}
