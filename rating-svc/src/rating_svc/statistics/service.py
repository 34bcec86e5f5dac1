"""The published figures: each change adds its counts to the roll-ups in its own transaction
(``rollups`` says which rows and how much), and the public reads sum a range of periods of one
department, item or region, or rank the departments of a region. Nothing personal is counted."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Rating, Rectification
from rating_svc.rules.workflow import Status
from rating_svc.statistics import repository, rollups
from rating_svc.statistics.rollups import COUNTERS, Granularity
from rating_svc.statistics.schemas import Ranking, Statistics
from servicekit.problems import DomainError, extension_members

#: The longest range one read sums: a year of days, ten years of months.
MAX_PERIODS: dict[str, int] = {"day": 366, "month": 120}


class StatisticsRangeInvalid(DomainError):
    status = 422
    code = "statistics_range_invalid"
    title = "The range of periods is empty or too long"
    members = extension_members(
        max_periods={
            "type": "integer",
            "description": "The most periods one read sums",
            "examples": [366],
        }
    )


def _keys(thing: Rating | Rectification, at: dt.datetime) -> list[rollups.Key]:
    return rollups.keys_of(
        department_id=thing.department_id,
        item_code=thing.item_code,
        region_code=thing.region_code,
        at=at,
    )


async def count_rating(session: AsyncSession, rating: Rating) -> None:
    """A review of a served case (and the rectification a bad one opened)."""
    deltas = rollups.rating_deltas(rating.level, rating.bad_review)
    await repository.add(session, rollups.rows(_keys(rating, rating.created_at), deltas))


async def count_follow_up(
    session: AsyncSession, rectification: Rectification, follow_up: Rating
) -> None:
    """The citizen's rating of a rectification, counted in the period of her bad review."""
    deltas = rollups.follow_up_deltas(follow_up.level)
    await repository.add(
        session, rollups.rows(_keys(rectification, rectification.opened_at), deltas)
    )


def _on_time(rectification: Rectification) -> bool:
    return (
        rectification.rectified_at is not None
        and rectification.rectified_at <= rectification.rectification_due_at
    )


async def count_closed(session: AsyncSession, rectification: Rectification) -> None:
    """A closed rectification, on time if it was reported by its deadline; in the period of the
    bad review that opened it."""
    deltas = rollups.closed_deltas(_on_time(rectification))
    await repository.add(
        session, rollups.rows(_keys(rectification, rectification.opened_at), deltas)
    )


async def uncount(
    session: AsyncSession,
    rating: Rating,
    rectification: Rectification | None,
    follow_up: Rating | None,
) -> None:
    """Take a review out of the figures (an upheld appeal), with what its rectification and
    its follow-up added."""
    taken = [rollups.rating_deltas(rating.level, rating.bad_review)]
    if rectification is not None and rectification.status == Status.CLOSED:
        taken.append(rollups.closed_deltas(_on_time(rectification)))
    if follow_up is not None:
        taken.append(rollups.follow_up_deltas(follow_up.level))
    await repository.add(
        session, rollups.rows(_keys(rating, rating.created_at), rollups.negated(*taken))
    )


def _range(granularity: Granularity, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    first = rollups.period_start(start, granularity)
    last = rollups.period_start(end, granularity)
    if granularity == "day":
        periods = (last - first).days + 1
    else:
        periods = (last.year - first.year) * 12 + last.month - first.month + 1
    if end < start or periods > MAX_PERIODS[granularity]:
        raise StatisticsRangeInvalid(
            f"{periods} {granularity}s from {start} to {end}",
            max_periods=MAX_PERIODS[granularity],
        )
    return first, last


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _figures(counts: Sequence[int]) -> dict[str, Any]:
    """The figures of summed counts (``COUNTERS`` order), as the data ``Figures`` validates: a
    ranking validates its 990 departments' in one call instead of one model at a time (half
    its Python time)."""
    c = dict(zip(COUNTERS, counts, strict=True))
    opened = c["rectifications_opened"]
    return {
        "ratings": c["ratings"],
        "levels": {
            "5": c["level_5"],
            "4": c["level_4"],
            "3": c["level_3"],
            "2": c["level_2"],
            "1": c["level_1"],
        },
        "bad_reviews": c["bad_reviews"],
        "rectifications_opened": opened,
        "rectifications_closed": c["rectifications_closed"],
        "rectifications_on_time": c["rectifications_on_time"],
        "follow_ups": c["follow_ups"],
        "follow_ups_satisfied": c["follow_ups_satisfied"],
        "satisfaction_rate": _rate(c["level_5"] + c["level_4"] + c["level_3"], c["ratings"]),
        "bad_review_rate": _rate(c["bad_reviews"], c["ratings"]),
        "rectification_rate": _rate(c["rectifications_closed"], opened),
        "on_time_rectification_rate": _rate(c["rectifications_on_time"], opened),
        "follow_up_satisfaction_rate": _rate(c["follow_ups_satisfied"], c["follow_ups"]),
    }


async def statistics_of(
    session: AsyncSession,
    *,
    dimension: str,
    key: str,
    granularity: Granularity,
    start: dt.date,
    end: dt.date,
) -> Statistics:
    first, last = _range(granularity, start, end)
    counts = await repository.totals(
        session,
        dimension=dimension,
        scope="",
        key=key,
        granularity=granularity,
        start=first,
        end=last,
    )
    return Statistics.model_validate(
        {
            "dimension": dimension,
            "key": key,
            "granularity": granularity,
            "first_period": first,
            "last_period": last,
            "figures": _figures(counts),
        }
    )


async def ranking_in(
    session: AsyncSession,
    *,
    region: str,
    granularity: Granularity,
    start: dt.date,
    end: dt.date,
    min_ratings: int,
) -> Ranking:
    """The region's departments (its own and those of the regions below it) by satisfaction
    rate, best first; those with fewer than ``min_ratings`` ratings are not ranked."""
    first, last = _range(granularity, start, end)
    rows = await repository.by_key(
        session,
        dimension=rollups.DEPARTMENT_IN_REGION,
        scope=region,
        granularity=granularity,
        start=first,
        end=last,
    )
    counted = [(department, _figures(counts)) for department, counts in rows]
    eligible = [
        (department, shown)
        for department, shown in counted
        if shown["ratings"] >= min_ratings and shown["satisfaction_rate"] is not None
    ]
    eligible.sort(key=lambda pair: (-pair[1]["satisfaction_rate"], -pair[1]["ratings"], pair[0]))
    return Ranking.model_validate(
        {
            "region_code": region,
            "granularity": granularity,
            "first_period": first,
            "last_period": last,
            "min_ratings": min_ratings,
            "items": [
                {"rank": position, "department_id": department, "figures": shown}
                for position, (department, shown) in enumerate(eligible, start=1)
            ],
            "unranked": len(counted) - len(eligible),
        }
    )
