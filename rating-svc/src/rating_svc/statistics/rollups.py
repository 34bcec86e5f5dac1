"""What a change adds to the roll-ups, as pure data: the rows (period, dimension, key) it
moves and by how much. The service upserts them in the change's transaction; the migration and
the benchmark build roll-ups of existing ratings with the same rows."""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Literal

from servicekit.regions import InvalidRegionCode, RegionCode
from servicekit.working_days import local_date

Granularity = Literal["day", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "month")
DEPARTMENT = "department"
ITEM = "item"
REGION = "region"
DEPARTMENT_IN_REGION = "department_in_region"
#: A follow-up rating at this level or above is satisfied (basically satisfied or better).
SATISFIED_FROM = 3

COUNTERS = (
    "ratings",
    "level_5",
    "level_4",
    "level_3",
    "level_2",
    "level_1",
    "bad_reviews",
    "rectifications_opened",
    "rectifications_closed",
    "rectifications_on_time",
    "follow_ups",
    "follow_ups_satisfied",
)
KEY_COLUMNS = ("dimension", "scope", "key", "granularity", "period_start")
Key = tuple[str, str, str, str, dt.date]
Deltas = Mapping[str, int]


def period_start(day: dt.date, granularity: Granularity) -> dt.date:
    return day if granularity == "day" else day.replace(day=1)


def _regions(region_code: str) -> tuple[str, ...]:
    """The case's region and those above it, up to the province."""
    try:
        return tuple(region.official for region in RegionCode.parse(region_code).lineage)
    except InvalidRegionCode:
        return (region_code,)


def keys_of(*, department_id: str, item_code: str, region_code: str, at: dt.datetime) -> list[Key]:
    """Every row a change of this department, item and region at ``at`` moves."""
    day = local_date(at)
    regions = _regions(region_code)
    dimensions = [(DEPARTMENT, "", department_id), (ITEM, "", item_code)]
    dimensions += [(REGION, "", region) for region in regions]
    dimensions += [(DEPARTMENT_IN_REGION, region, department_id) for region in regions]
    return [
        (dimension, scope, key, granularity, period_start(day, granularity))
        for dimension, scope, key in dimensions
        for granularity in GRANULARITIES
    ]


def rows(keys: Iterable[Key], deltas: Deltas) -> list[dict[str, object]]:
    """The rows to upsert, in key order (concurrent writers lock them in the same order)."""
    return [
        {**dict(zip(KEY_COLUMNS, key, strict=True)), **{c: deltas.get(c, 0) for c in COUNTERS}}
        for key in sorted(set(keys))
    ]


def rating_deltas(level: int, bad_review: bool) -> dict[str, int]:
    """A review of a served case; a bad one opens its rectification in the same change."""
    return {
        "ratings": 1,
        f"level_{level}": 1,
        "bad_reviews": int(bad_review),
        "rectifications_opened": int(bad_review),
    }


def follow_up_deltas(level: int) -> dict[str, int]:
    return {"follow_ups": 1, "follow_ups_satisfied": int(level >= SATISFIED_FROM)}


def closed_deltas(rectified_on_time: bool) -> dict[str, int]:
    return {"rectifications_closed": 1, "rectifications_on_time": int(rectified_on_time)}


def negated(*deltas: Deltas) -> dict[str, int]:
    """What takes these out again (an upheld appeal)."""
    total: dict[str, int] = {}
    for each in deltas:
        for column, value in each.items():
            total[column] = total.get(column, 0) - value
    return total
