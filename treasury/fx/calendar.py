"""When each source publishes: TARGET days for the ECB, quarter ends for the Treasury.

The ECB publishes its reference rates at about 16:00 CET on TARGET days: every weekday
except New Year's Day, Good Friday, Easter Monday, 1 May and 25-26 December.
"""

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.easter import easter

ECB_TIMEZONE = ZoneInfo("Europe/Berlin")
# The ECB says "around 16:00 CET"; half an hour of slack before a fetch expects them.
ECB_PUBLICATION_TIME = time(16, 30)


def target_holidays(year: int) -> frozenset[date]:
    easter_sunday = easter(year)
    return frozenset(
        {
            date(year, 1, 1),
            easter_sunday - timedelta(days=2),  # Good Friday
            easter_sunday + timedelta(days=1),  # Easter Monday
            date(year, 5, 1),
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def is_target_day(day: date) -> bool:
    return day.weekday() < 5 and day not in target_holidays(day.year)


def target_days(start: date, end: date) -> Iterator[date]:
    """TARGET days from start to end, both included."""
    day = start
    while day <= end:
        if is_target_day(day):
            yield day
        day += timedelta(days=1)


def previous_target_day(day: date) -> date:
    """The last TARGET day strictly before `day`."""
    day -= timedelta(days=1)
    while not is_target_day(day):
        day -= timedelta(days=1)
    return day


def ecb_latest_publication(now: datetime) -> date:
    """The reference date of the newest ECB rates published by `now` (aware)."""
    local = now.astimezone(ECB_TIMEZONE)
    today = local.date()
    if is_target_day(today) and local.time() >= ECB_PUBLICATION_TIME:
        return today
    return previous_target_day(today)


def quarter_end(day: date) -> date:
    """The last day of the quarter holding `day`."""
    month = ((day.month - 1) // 3 + 1) * 3
    next_month = date(day.year + (month == 12), month % 12 + 1, 1)
    return next_month - timedelta(days=1)


def quarter_ends(start: date, end: date) -> Iterator[date]:
    """Quarter ends (Mar 31, Jun 30, Sep 30, Dec 31) from start to end, both included."""
    day = quarter_end(start)
    while day <= end:
        yield day
        day = quarter_end(day + timedelta(days=1))
