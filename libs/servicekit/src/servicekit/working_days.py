"""Working days in Asia/Shanghai on the official holiday calendar: the one count every service
keeps its clocks with (case-svc's promised and statutory days, rating-svc's call-back and
rectification times).

A promise of N working days counts from the day after submission (as statutory time limits
do), skips public holidays and counts the weekend days officially made working days (调休),
and ends at the close of the Nth working day, local time.

The official schedule is published by the State Council one year at a time, and the calendar
package knows only the years published when it was released. For a later year the count falls
back to Monday-to-Friday and the deadline is marked provisional, so a client can say so rather
than show a date that a holiday may still move.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import chinese_calendar

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")

_CLOSE_OF_DAY = dt.time(23, 59, 59)


@dataclass(frozen=True)
class Deadline:
    due_at: dt.datetime
    #: Some day counted lies in a year whose official schedule is not yet known.
    provisional: bool


def local_date(instant: dt.datetime) -> dt.date:
    """The date in Asia/Shanghai at ``instant`` (an aware datetime)."""
    return instant.astimezone(LOCAL_ZONE).date()


def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """Whether ``day`` is a working day, and whether the official schedule says so."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def nth_working_day_after(start: dt.date, count: int) -> tuple[dt.date, bool]:
    """The ``count``-th working day after ``start``, and whether that is provisional."""
    if count < 0:
        raise ValueError("a number of working days is not negative")
    day = start
    provisional = False
    counted = 0
    while counted < count:
        day += dt.timedelta(days=1)
        working, official = is_working_day(day)
        provisional = provisional or not official
        if working:
            counted += 1
    return day, provisional


def deadline_after(submitted_at: dt.datetime, working_days: int) -> Deadline:
    day, provisional = nth_working_day_after(local_date(submitted_at), working_days)
    close = dt.datetime.combine(day, _CLOSE_OF_DAY, tzinfo=LOCAL_ZONE)
    return Deadline(due_at=close.astimezone(dt.UTC), provisional=provisional)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """The working days after ``start`` up to and including ``end``: how many a pause from one
    to the other took off the clock (none when both are the same day)."""
    days = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        days += is_working_day(day)[0]
    return days


def moved_on(deadline: Deadline, working_days: int) -> Deadline:
    """``deadline`` moved ``working_days`` later (the days a pause took off the clock)."""
    if working_days == 0:
        return deadline
    day, provisional = nth_working_day_after(local_date(deadline.due_at), working_days)
    close = dt.datetime.combine(day, _CLOSE_OF_DAY, tzinfo=LOCAL_ZONE)
    return Deadline(
        due_at=close.astimezone(dt.UTC), provisional=deadline.provisional or provisional
    )
