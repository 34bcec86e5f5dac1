"""Case deadlines: the time limits of the Administrative Licensing Law, counted in working days
on the official calendar (``servicekit.working_days``, which every service counts with).
"""

import datetime as dt

from servicekit.working_days import (
    LOCAL_ZONE,
    Deadline,
    deadline_after,
    is_working_day,
    local_date,
    moved_on,
    nth_working_day_after,
    working_days_between,
)

__all__ = [
    "INTAKE_WORKING_DAYS",
    "LOCAL_ZONE",
    "STATUTORY_WORKING_DAYS",
    "WARNING_SHARE",
    "Deadline",
    "deadline_after",
    "is_working_day",
    "local_date",
    "moved_on",
    "nth_working_day_after",
    "warning_at",
    "working_days_between",
]

#: A case turns yellow once this share of its promised time is gone.
WARNING_SHARE = 0.8

#: The time to decide on an application's intake (accept, refuse or ask once for what is
#: missing); past it, the application counts as accepted (Administrative Licensing Law art. 32;
#: its periods are working days, art. 82).
INTAKE_WORKING_DAYS = 5

#: The statutory time of a licensing decision when the item names none: twenty working days
#: from acceptance (Administrative Licensing Law art. 42).
STATUTORY_WORKING_DAYS = 20


def warning_at(started_at: dt.datetime, due_at: dt.datetime) -> dt.datetime:
    """When a case due at ``due_at`` turns yellow: 80 % of the way from ``started_at``."""
    return started_at + (due_at - started_at) * WARNING_SHARE
