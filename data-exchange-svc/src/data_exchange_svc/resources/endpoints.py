"""HTTP endpoints of the public resource catalogue: no token needed."""

from fastapi import APIRouter, Request

from data_exchange_svc.models import DataResource
from data_exchange_svc.resources import service
from data_exchange_svc.resources.schemas import ResourcePage, ResourceRead
from data_exchange_svc.resources.service import ResourceNotFound
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, InvalidCursor, LimitQuery, cursors_of, page_size_of

router = APIRouter(prefix="/exchange/v1", tags=["resources"])


@router.get("/resources", response_model=ResourcePage, responses=problem_responses(InvalidCursor))
async def list_resources(
    session: SessionDep,
    request: Request,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> ResourcePage:
    """The published data resources, by code: owner, classification, fields and sensitivity."""
    resources, next_cursor = await service.resource_page(
        session, cursors=cursors_of(request), cursor=cursor, limit=page_size_of(request, limit)
    )
    return ResourcePage(items=[_view(resource) for resource in resources], next_cursor=next_cursor)


@router.get(
    "/resources/{code}", response_model=ResourceRead, responses=problem_responses(ResourceNotFound)
)
async def get_resource(code: str, session: SessionDep) -> ResourceRead:
    return _view(await service.resource_of(session, code))


def _view(resource: DataResource) -> ResourceRead:
    return ResourceRead.model_validate(resource, from_attributes=True)
