"""HTTP endpoints for service items (public: no token): parse, delegate, shape."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from catalog_svc.departments.schemas import DepartmentRead, Tier
from catalog_svc.http_cache import cached_json
from catalog_svc.items import service
from catalog_svc.items.schemas import (
    HandlerRead,
    ItemChange,
    ItemChanges,
    ItemPage,
    ItemRead,
    ItemSummary,
    Subject,
)
from catalog_svc.models import ServiceItem
from catalog_svc.reference.items import visits_value
from catalog_svc.settings import CatalogSettings
from catalog_svc.snapshot import current_snapshot
from servicekit.db import SessionDep

router = APIRouter(prefix="/catalog/v1/items", tags=["items"])

ItemCodePath = Annotated[str, Path(description="e.g. public_security.id_card_loss_report")]


@router.get(
    "",
    response_model=ItemPage | ItemChanges,
    responses={
        404: {"description": "region_not_found"},
        422: {
            "description": "invalid_region_code, invalid_cursor, validation_failed, "
            "changed_since_with_search"
        },
    },
)
async def search_items(
    session: SessionDep,
    request: Request,
    q: Annotated[
        str,
        Query(
            max_length=100,
            description="Words, a question (身份证丢了), pinyin (sfzgs, gongjijin); "
            "empty: every item, by code",
        ),
    ] = "",
    region: Annotated[
        str | None,
        Query(max_length=32, description="Only items some department serves in this region"),
    ] = None,
    subject: Subject | None = None,
    department_type: Annotated[str | None, Query(max_length=48)] = None,
    tier: Tier | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    changed_since: Annotated[
        dt.datetime | None,
        Query(
            description="The change feed instead of a search: items changed (published or "
            "withdrawn) after this time (ISO 8601; naive: UTC), oldest first"
        ),
    ] = None,
) -> Response:
    """Search and filter the published items, best match first; or, with ``changed_since``,
    the change feed other services and clients sync from."""
    settings: CatalogSettings = request.app.state.settings
    limit = min(limit or settings.search_default_limit, settings.search_max_limit)
    if changed_since is not None:
        if q or region or subject or department_type or tier:
            raise service.ChangedSinceWithSearch(
                "changed_since lists every change; search and filters do not apply to it"
            )
        changed, next_cursor = await service.changes(
            session, changed_since, limit=limit, cursor=cursor
        )
        feed = ItemChanges(
            items=[ItemChange.model_validate(item, from_attributes=True) for item in changed],
            next_cursor=next_cursor,
        )
        return cached_json(request, feed)
    page = service.search(
        current_snapshot(request),
        service.SearchFilters(
            q=q, region=region, subject=subject, department_type=department_type, tier=tier
        ),
        limit=limit,
        cursor=cursor,
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
                }
            )
            for hit in page.hits
        ],
        next_cursor=page.next_cursor,
        facets=page.facets,
    )
    return cached_json(request, body)


@router.get(
    "/{item_code}", response_model=ItemRead, responses={404: {"description": "item_not_found"}}
)
async def get_item(item_code: ItemCodePath, session: SessionDep, request: Request) -> Response:
    """One item: who handles it, its form (JSON Schema), materials, deadlines, fee, visits."""
    return cached_json(request, _view(await service.item_by_code(session, item_code)))


@router.get(
    "/{item_code}/handler",
    response_model=HandlerRead,
    responses={
        404: {"description": "item_not_found, region_not_found, no_responsible_department"},
        422: {"description": "invalid_region_code, item_not_offered_in_region"},
    },
)
async def get_handler(
    item_code: ItemCodePath,
    request: Request,
    region: Annotated[
        str,
        Query(
            max_length=32,
            description="The applicant's region, any level and any written form; a retired "
            "code is followed to its successor",
        ),
    ],
) -> Response:
    """The department responsible for this item for an applicant of this region."""
    found = service.responsible_department(
        current_snapshot(request), item_code=item_code, region_text=region
    )
    body = HandlerRead(
        item_code=found.item_code,
        region_code=found.region.code,
        resolved_region_code=found.resolved_region.code,
        department=DepartmentRead.model_validate(found.department),
    )
    return cached_json(request, body)


def _view(item: ServiceItem) -> ItemRead:
    return ItemRead.model_validate(
        {
            "code": item.code,
            "name": item.name,
            "aliases": item.aliases,
            "keywords": item.keywords,
            "department_type": item.department_type,
            "handling_tier": item.handling_tier,
            "subject": item.subject,
            "topics": item.topics,
            "processing_mode": item.processing_mode,
            "min_loa": item.min_loa,
            "visits": visits_value(item.visits),
            "legal_working_days": item.legal_working_days,
            "promised_working_days": item.promised_working_days,
            "fee": item.fee,
            "materials": item.materials,
            "form_schema": item.form_schema,
            "offered_in": item.offered_in,
            "illustrative": item.illustrative,
            "notes": item.notes,
            "version": item.version,
            "status": item.status,
        }
    )
