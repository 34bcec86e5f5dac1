"""The public statistics: no token, cacheable (``Cache-Control: public`` and an ETag; a
matching If-None-Match gets 304)."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from rating_svc.deps import SettingsDep
from rating_svc.statistics import rollups, service
from rating_svc.statistics.rollups import Granularity
from rating_svc.statistics.schemas import Ranking, Statistics
from rating_svc.statistics.service import StatisticsRangeInvalid
from servicekit.db import SessionDep
from servicekit.http_cache import cached_json
from servicekit.openapi import problem_responses
from servicekit.problems import DomainError
from servicekit.regions import InvalidRegionCode, RegionCode

router = APIRouter(prefix="/ratings/v1/statistics", tags=["statistics"])


class RegionCodeInvalid(DomainError):
    status = 422
    code = "region_code_invalid"
    title = "Not a region code"


GranularityQuery = Annotated[
    Granularity, Query(description="day or month: the periods the range is counted in")
]
FromQuery = Annotated[
    dt.date,
    Query(
        alias="from",
        description="The first day (or a day of the first month)",
        examples=["2026-12-01"],
    ),
]
ToQuery = Annotated[
    dt.date,
    Query(
        description="The last day (or a day of the last month), inclusive", examples=["2026-12-31"]
    ),
]
KeyPath = Annotated[str, Path(min_length=1, max_length=64)]
RegionPath = Annotated[str, Path(min_length=2, max_length=12, examples=["330302"])]
PROBLEMS = problem_responses(StatisticsRangeInvalid)


def _region(code: str) -> str:
    try:
        return RegionCode.parse(code).official
    except InvalidRegionCode as exc:
        raise RegionCodeInvalid(f"{code!r} is not a region code") from exc


@router.get("/departments/{department_id}", response_model=Statistics, responses=PROBLEMS)
async def department_statistics(
    request: Request,
    department_id: KeyPath,
    session: SessionDep,
    settings: SettingsDep,
    start: FromQuery,
    to: ToQuery,
    granularity: GranularityQuery = "month",
) -> Response:
    """A department's figures over a range of days or months: counts per level, satisfaction,
    bad-review, rectification and on-time rectification rates, follow-up satisfaction."""
    body = await service.statistics_of(
        session,
        dimension=rollups.DEPARTMENT,
        key=department_id,
        granularity=granularity,
        start=start,
        end=to,
    )
    return cached_json(request, body, max_age_seconds=settings.statistics_max_age_seconds)


@router.get("/items/{item_code}", response_model=Statistics, responses=PROBLEMS)
async def item_statistics(
    request: Request,
    item_code: KeyPath,
    session: SessionDep,
    settings: SettingsDep,
    start: FromQuery,
    to: ToQuery,
    granularity: GranularityQuery = "month",
) -> Response:
    """An item's figures, wherever it was handled, over a range of days or months."""
    body = await service.statistics_of(
        session, dimension=rollups.ITEM, key=item_code, granularity=granularity, start=start, end=to
    )
    return cached_json(request, body, max_age_seconds=settings.statistics_max_age_seconds)


@router.get(
    "/regions/{region_code}",
    response_model=Statistics,
    responses=problem_responses(StatisticsRangeInvalid, RegionCodeInvalid),
)
async def region_statistics(
    request: Request,
    region_code: RegionPath,
    session: SessionDep,
    settings: SettingsDep,
    start: FromQuery,
    to: ToQuery,
    granularity: GranularityQuery = "month",
) -> Response:
    """A region's figures, the regions below it included (a township's count for its county,
    city and province), over a range of days or months."""
    body = await service.statistics_of(
        session,
        dimension=rollups.REGION,
        key=_region(region_code),
        granularity=granularity,
        start=start,
        end=to,
    )
    return cached_json(request, body, max_age_seconds=settings.statistics_max_age_seconds)


@router.get(
    "/regions/{region_code}/rankings",
    response_model=Ranking,
    responses=problem_responses(StatisticsRangeInvalid, RegionCodeInvalid),
)
async def department_ranking(
    request: Request,
    region_code: RegionPath,
    session: SessionDep,
    settings: SettingsDep,
    start: FromQuery,
    to: ToQuery,
    granularity: GranularityQuery = "month",
    min_ratings: Annotated[
        int | None,
        Query(
            ge=1, le=100_000, description="The fewest ratings to be ranked (default: the setting)"
        ),
    ] = None,
) -> Response:
    """The departments of the region and of the regions below it, by satisfaction rate over
    the range, best first; those with fewer ratings than ``min_ratings`` are counted apart."""
    body = await service.ranking_in(
        session,
        region=_region(region_code),
        granularity=granularity,
        start=start,
        end=to,
        min_ratings=min_ratings or settings.statistics_min_ranked_ratings,
    )
    return cached_json(request, body, max_age_seconds=settings.statistics_max_age_seconds)
