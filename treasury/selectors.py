"""Reads of the treasury core."""

from datetime import datetime

from treasury.models import Heartbeat


def heartbeat_last_seen(*, name: str) -> datetime | None:
    return Heartbeat.objects.filter(name=name).values_list("seen_at", flat=True).first()
