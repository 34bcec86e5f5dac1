"""HTTP endpoints for service items (public: no token): parse, delegate, shape."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from catalog_svc.departments.schemas import DepartmentRead
from catalog_svc.deps import CatalogState, QualityDep, SnapshotDep, StateDep
from catalog_svc.http_cache import cached_json
from catalog_svc.items import service
from catalog_svc.items.schemas import (
    HandlerRead,
    ItemChange,
    ItemChangeFeed,
    ItemPage,
    ItemRead,
    ItemSummary,
    SearchQuery,
    item_read,
)
from catalog_svc.items.service import (
    ChangedSinceWithSearch,
    ItemNotFound,
    ItemNotOfferedInRegion,
    NoResponsibleDepartment,
)
from catalog_svc.regions.service import RegionNotFound
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import InvalidCursor, page_size
from servicekit.problems import InvalidRegion, ValidationFailed
from servicekit.regions import RegionCodeStr

router = APIRouter(prefix="/catalog/v1/items", tags=["items"])

ItemCodePath = Annotated[str, Path(description="e.g. public_security.id_card_loss_report")]


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI description of a query read by ``_parsed_query``: one optional parameter
    per field of the model."""
    schema = model.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": field.pop("description", ""),
            "schema": field,
        }
        for name, field in schema["properties"].items()
    ]


def _parsed_query(request: Request) -> SearchQuery:
    """The search's query, validated by one call of its model. FastAPI's own resolution of
    query parameters (or of a query model) reflects on each field at every request, which
    cost more than the search itself (~85 µs of ~370 µs per request, measured with
    bench.catalog_search's paths): this is the catalogue's busiest read. Errors are FastAPI's,
    rendered as ``validation_failed`` with ``query.<name>`` fields."""
    try:
        return SearchQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        ) from exc


@router.get(
    "",
    response_model=ItemPage | ItemChangeFeed,
    responses=problem_responses(
        ValidationFailed, RegionNotFound, InvalidRegion, InvalidCursor, ChangedSinceWithSearch
    ),
    openapi_extra={"parameters": _query_parameters(SearchQuery)},
)
async def search_items(request: Request, state: StateDep) -> Response:
    """Search and filter the published items, best match first; or, with ``changed_since``,
    the change feed other services and clients sync from.

    A search is answered from the in-memory snapshot and opens no database session (it is the
    catalogue's busiest read); only the change feed reads the database."""
    query = _parsed_query(request)
    settings = state.settings
    quality = state.quality
    limit = page_size(
        query.limit, default=settings.search_default_limit, maximum=settings.search_max_limit
    )
    if query.changed_since is not None:
        return await _change_feed(request, state, query, since=query.changed_since, limit=limit)
    page = service.search(
        state.catalog.snapshot,
        service.SearchFilters(
            q=query.q,
            region=query.region,
            subject=query.subject,
            department_type=query.department_type,
            tier=query.tier,
        ),
        limit=limit,
        cursors=state.cursors,
        cursor=query.cursor,
    )
    body = ItemPage(
        items=[
            ItemSummary.model_validate(
                {
                    "code": hit.item.code,
                    "name": hit.item.name,
                    "department_type": hit.item.department_type,
                    "handling_tier": hit.item.handling_tier,
                    "subject": hit.item.subject,
                    "processing_mode": hit.item.processing_mode,
                    "min_loa": hit.item.min_loa,
                    "score": None if page.browsing else hit.score,
                    "quality": quality.of_item(hit.item.code, hit.item.promised_working_days),
                }
            )
            for hit in page.hits
        ],
        next_cursor=page.next_cursor,
        facets=page.facets,
    )
    return cached_json(request, body)


async def _change_feed(
    request: Request, state: CatalogState, query: SearchQuery, *, since: dt.datetime, limit: int
) -> Response:
    if query.q or query.region or query.subject or query.department_type or query.tier:
        raise service.ChangedSinceWithSearch(
            "changed_since lists every change; search and filters do not apply to it"
        )
    # A read-only session of its own, so that searches on the same path need none; nothing is
    # written, so there is nothing to commit.
    async with state.database.sessionmaker() as session:
        changed, next_cursor = await service.changes(
            session, since, limit=limit, cursors=state.cursors, cursor=query.cursor
        )
        feed = ItemChangeFeed(
            items=[ItemChange.model_validate(item, from_attributes=True) for item in changed],
            next_cursor=next_cursor,
        )
    return cached_json(request, feed)


@router.get("/{item_code}", response_model=ItemRead, responses=problem_responses(ItemNotFound))
async def get_item(
    item_code: ItemCodePath, session: SessionDep, quality: QualityDep, request: Request
) -> Response:
    """One item: who handles it, its form (JSON Schema), materials, deadlines, fee, visits,
    and how its departments serve it (live quality)."""
    return cached_json(request, item_read(await service.item_by_code(session, item_code), quality))


@router.get(
    "/{item_code}/handler",
    response_model=HandlerRead,
    responses=problem_responses(
        ItemNotFound, NoResponsibleDepartment, RegionNotFound, InvalidRegion, ItemNotOfferedInRegion
    ),
)
async def get_handler(
    item_code: ItemCodePath,
    snapshot: SnapshotDep,
    quality: QualityDep,
    request: Request,
    region: Annotated[
        RegionCodeStr,
        Query(
            max_length=32,
            description="The applicant's region, any level and any written form; a retired "
            "code is followed to its successor",
        ),
    ],
) -> Response:
    """The department responsible for this item for an applicant of this region, and how it
    serves the item (live quality)."""
    found = service.responsible_department(snapshot, item_code=item_code, region_text=region)
    promised = snapshot.items[found.item_code].promised_working_days
    body = HandlerRead(
        item_code=found.item_code,
        region_code=found.region.code,
        resolved_region_code=found.resolved_region.code,
        department=DepartmentRead.model_validate(found.department),
        quality=quality.of_department(found.item_code, found.department.id, promised),
    )
    return cached_json(request, body)
