"""HTTP endpoints for one-issue bundles (public: no token): parse, delegate, shape."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from catalog_svc.bundles import service
from catalog_svc.bundles.schemas import BundleItem, BundleList, BundleRead, BundleSummary
from catalog_svc.bundles.service import BundleNotFound
from catalog_svc.http_cache import cached_json
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/catalog/v1/bundles", tags=["bundles"])


@router.get("", response_model=BundleList)
async def list_bundles(session: SessionDep, request: Request) -> Response:
    """Every one-issue bundle, by code: the specified ones and those only named so far."""
    body = BundleList(
        items=[
            BundleSummary.model_validate(
                {
                    "code": bundle.code,
                    "name": bundle.name,
                    "subject": bundle.subject,
                    "specified": bool(bundle.item_codes),
                    "item_count": len(bundle.item_codes),
                }
            )
            for bundle in await service.every_bundle(session)
        ]
    )
    return cached_json(request, body)


@router.get("/{code}", response_model=BundleRead, responses=problem_responses(BundleNotFound))
async def get_bundle(
    code: Annotated[str, Path(description="e.g. birth, enterprise_startup")],
    session: SessionDep,
    request: Request,
) -> Response:
    """A bundle: its items in order, the one merged form, and which items each field feeds."""
    view = await service.bundle_by_code(session, code)
    bundle = view.bundle
    body = BundleRead.model_validate(
        {
            "code": bundle.code,
            "name": bundle.name,
            "subject": bundle.subject,
            "specified": bool(bundle.item_codes),
            "items": [
                BundleItem.model_validate(
                    {
                        "code": item.code,
                        "name": item.name,
                        "department_type": item.department_type,
                        "handling_tier": item.handling_tier,
                        "min_loa": item.min_loa,
                        "condition": bundle.item_conditions.get(item.code),
                    }
                )
                for item in view.items
            ],
            "form_schema": bundle.form_schema,
            "field_sources": bundle.field_sources,
            "min_loa": max((item.min_loa for item in view.items), default=None),
            "illustrative": bundle.illustrative,
        }
    )
    return cached_json(request, body)
