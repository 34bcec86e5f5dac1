"""HTTP endpoints for supervision: parse, authorise, delegate."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from case_svc.cases.service import NoDepartment
from case_svc.deps import NowDep, SettingsDep
from case_svc.supervision import service
from case_svc.supervision.schemas import CSV_COLUMNS, GroupBy, RegionLevelName, SupervisionPage
from case_svc.supervision.service import (
    InvalidPeriod,
    RegionLevelAboveScope,
    SupervisionNotAllowed,
    SupervisionQuery,
)
from servicekit.auth import PrincipalDep, TokenExpired, TokenRevoked
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/cases/v1", tags=["supervision"])


async def _query(
    period_start: Annotated[
        dt.date,
        Query(
            description="The first day of the period (Asia/Shanghai), included",
            examples=["2026-12-01"],
        ),
    ],
    period_end: Annotated[
        dt.date,
        Query(
            description="The last day of the period, included; at most 366 days after the first",
            examples=["2026-12-31"],
        ),
    ],
    group_by: Annotated[
        GroupBy,
        Query(
            description="department: a row per handling department; item: a row per item "
            "within its department; region: a row per region, its departments rolled up to "
            "region_level"
        ),
    ] = "department",
    region_level: Annotated[
        RegionLevelName | None,
        Query(
            description="For group_by=region: the level of the region tree rows roll up to, "
            "your own region's or below (default: the level just below yours; cities for the "
            "province and platform administrators). A department above that level is a row of "
            "its own region. The province is not offered: each instance holds whole cities, "
            "so rows of a city or below are each one instance's, merged as they are"
        ),
    ] = None,
) -> SupervisionQuery:
    return SupervisionQuery(
        period_start=period_start,
        period_end=period_end,
        group_by=group_by,
        region_level=region_level,
    )


QueryDep = Annotated[SupervisionQuery, Depends(_query)]

_PROBLEMS = (SupervisionNotAllowed, NoDepartment, InvalidPeriod, RegionLevelAboveScope)


@router.get(
    "/supervision",
    response_model=SupervisionPage,
    responses=problem_responses(*_PROBLEMS, InvalidCursor),
)
async def supervision_figures(
    principal: PrincipalDep,
    query: QueryDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    now: NowDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> SupervisionPage:
    """How promptly departments handle their cases (督查): per group, the cases filed and
    completed in the period, those completed by their promised time and the on-time rate, the
    cases open now and how many of them are overdue (red) or nearly so (yellow, 80 % of the
    promised time gone), and the mean working days, on the official calendar, from filing to
    completion against those promised. Figures only: no case, applicant or staff member.

    For staff with the role ``supervisor``, the departments of their own department's region
    and the regions within it; for ``platform_admin``, every department. Rows come in the order
    of their group (department id, then item code; region code), bytewise: the gateway merges
    the rows of every instance in that order, each row being one instance's. Regions are rolled
    up to the city at most, never the province, which would take the rows of two instances.
    The same rows as CSV: ``GET /cases/v1/supervision/export``."""
    return await service.supervision_page(
        session=session,
        principal=principal,
        query=query,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
        now=now,
    )


_CSV_EXAMPLE = (
    ",".join(CSV_COLUMNS)
    + "\r\n330300-housing_provident_fund,温州市住房公积金管理中心,,,330300,city,"
    "120,96,90,0.9375,31,2,5,2.41,3.12\r\n"
)


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


@router.get(
    "/supervision/export",
    response_class=CsvResponse,
    responses={
        200: {
            "description": "The rows as CSV (RFC 4180, UTF-8), a header row first",
            "content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
        },
        **problem_responses(*_PROBLEMS, TokenExpired, TokenRevoked, UpstreamUnavailable),
    },
)
async def export_supervision_figures(
    principal: PrincipalDep,
    query: QueryDep,
    http: HttpDep,
    settings: SettingsDep,
) -> CsvResponse:
    """The rows of ``GET /cases/v1/supervision`` for the same query, every page of them, as
    CSV: the columns are the rows' fields, an empty cell for a null. The export reads the list
    through the gateway with your token, a page at a time, so it holds the rows of every
    instance and is sent as it is read; should an instance fail midway, the answer ends with an
    error rather than as a shorter file."""
    service.check_export(principal, query)
    limit = settings.max_page_size
    first = await service.read_page(
        http, principal=principal, query=query, cursor=None, limit=limit
    )
    return CsvResponse(
        service.csv_export(http, principal=principal, query=query, first=first, limit=limit),
        headers={"Content-Disposition": 'attachment; filename="supervision.csv"'},
    )
