"""HTTP endpoints of the public resource catalogue: no token needed."""

from fastapi import APIRouter

from data_exchange_svc.deps import SettingsDep
from data_exchange_svc.models import DataResource
from data_exchange_svc.resources import service
from data_exchange_svc.resources.schemas import ResourcePage, ResourceRead
from data_exchange_svc.resources.service import ResourceNotFound
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import (
    CursorQuery,
    CursorsDep,
    InvalidCursor,
    LimitQuery,
    page_size_of,
)

router = APIRouter(prefix="/exchange/v1", tags=["resources"])


@router.get("/resources", response_model=ResourcePage, responses=problem_responses(InvalidCursor))
async def list_resources(
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> ResourcePage:
    """The published data resources, by code: owner, classification, fields and sensitivity."""
    resources, next_cursor = await service.resource_page(
        session, cursors=cursors, cursor=cursor, limit=page_size_of(settings, limit)
    )
    return ResourcePage(items=[_view(resource) for resource in resources], next_cursor=next_cursor)


@router.get(
    "/resources/{code}", response_model=ResourceRead, responses=problem_responses(ResourceNotFound)
)
async def get_resource(code: str, session: SessionDep) -> ResourceRead:
    return _view(await service.resource_of(session, code))


def _view(resource: DataResource) -> ResourceRead:
    return ResourceRead.model_validate(resource, from_attributes=True)
