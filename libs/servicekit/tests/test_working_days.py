"""Working days on the official calendar, as every service counts its clocks."""

import datetime as dt

import pytest

from servicekit.working_days import (
    LOCAL_ZONE,
    deadline_after,
    is_working_day,
    moved_on,
    working_days_between,
)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (dt.date(2026, 10, 1), False),  # National Day
        (dt.date(2026, 10, 8), True),
        (dt.date(2026, 12, 5), False),  # a Saturday
        (dt.date(2026, 12, 7), True),
    ],
)
def test_the_official_schedule_decides_what_a_working_day_is(day: dt.date, working: bool) -> None:
    assert is_working_day(day) == (working, True)


def test_one_working_day_after_a_friday_ends_on_monday_night_in_shanghai() -> None:
    friday_noon = dt.datetime(2026, 12, 4, 4, 0, tzinfo=dt.UTC)
    deadline = deadline_after(friday_noon, 1)
    local = deadline.due_at.astimezone(LOCAL_ZONE)
    assert (local.date(), local.time()) == (dt.date(2026, 12, 7), dt.time(23, 59, 59))
    assert deadline.provisional is False


def test_the_national_day_holiday_is_skipped() -> None:
    before_holiday = dt.datetime(2026, 9, 30, 4, 0, tzinfo=dt.UTC)
    local = deadline_after(before_holiday, 1).due_at.astimezone(LOCAL_ZONE)
    assert local.date() > dt.date(2026, 10, 7)


def test_a_year_whose_schedule_is_unpublished_counts_mondays_to_fridays_provisionally() -> None:
    deadline = deadline_after(dt.datetime(2099, 1, 5, 4, 0, tzinfo=dt.UTC), 15)
    assert deadline.provisional is True


def test_moving_a_deadline_on_by_the_days_a_pause_took() -> None:
    due = deadline_after(dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC), 1)
    moved = moved_on(due, 3)
    start, end = (
        due.due_at.astimezone(LOCAL_ZONE).date(),
        moved.due_at.astimezone(LOCAL_ZONE).date(),
    )
    assert working_days_between(start, end) == 3
