"""HTTP endpoints for regions (public: no token): parse, delegate, shape."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from catalog_svc.deps import SettingsDep, SnapshotDep
from catalog_svc.http_cache import cached_json
from catalog_svc.regions import service
from catalog_svc.regions.schemas import RegionChild, RegionChildrenPage, RegionRead, RegionSummary
from catalog_svc.regions.service import RegionNotFound
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import (
    CursorQuery,
    CursorsDep,
    InvalidCursor,
    LimitQuery,
    page_size,
)
from servicekit.problems import InvalidRegion
from servicekit.regions import RegionCodeStr

router = APIRouter(prefix="/catalog/v1/regions", tags=["regions"])

RegionCodePath = Annotated[
    RegionCodeStr,
    Path(
        description="Any written form: 33, 330000, 3303, 330300, 330300000000, 330302026003",
        max_length=32,
    ),
]


@router.get(
    "/{code}", response_model=RegionRead, responses=problem_responses(RegionNotFound, InvalidRegion)
)
async def get_region(code: RegionCodePath, snapshot: SnapshotDep, request: Request) -> Response:
    """A region, current or retired, with its ancestors (province first) and, for a retired
    one, the current region that took it over (from memory: no database round trip)."""
    view = service.region_view(snapshot, code)
    region = view.region
    body = RegionRead.model_validate(
        {
            "code": region.code,
            "name": region.name,
            "level": region.level,
            "prefix": region.prefix,
            "parent_code": region.parent_code,
            "ancestors": [RegionSummary.model_validate(a) for a in view.ancestors],
            "status": region.status,
            "successor_code": region.successor_code,
        }
    )
    return cached_json(request, body)


@router.get(
    "/{code}/children",
    response_model=RegionChildrenPage,
    responses=problem_responses(RegionNotFound, InvalidRegion, InvalidCursor),
)
async def get_children(
    code: RegionCodePath,
    session: SessionDep,
    snapshot: SnapshotDep,
    settings: SettingsDep,
    cursors: CursorsDep,
    request: Request,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """The current regions directly below this one, by code, a page at a time."""
    page = await service.children(
        session,
        snapshot,
        code,
        limit=page_size(
            limit, default=settings.children_max_limit, maximum=settings.children_max_limit
        ),
        cursors=cursors,
        cursor=cursor,
    )
    body = RegionChildrenPage(
        items=[RegionChild.model_validate(child) for child in page.children],
        next_cursor=page.next_cursor,
    )
    return cached_json(request, body)
