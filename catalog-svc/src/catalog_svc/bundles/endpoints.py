"""HTTP endpoints for one-issue bundles (public: no token): parse, delegate, shape."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from catalog_svc.bundles import service
from catalog_svc.bundles.answers import BundleAnswersInvalid
from catalog_svc.bundles.schemas import (
    BundleItem,
    BundleList,
    BundlePlan,
    BundlePlanRequest,
    BundleRead,
    BundleSummary,
    LeftOutItem,
    PlannedItem,
)
from catalog_svc.bundles.service import BundleNotFound, BundleNotSpecified
from catalog_svc.departments.schemas import DepartmentRead
from catalog_svc.deps import SnapshotDep
from catalog_svc.http_cache import cached_json
from catalog_svc.items.service import NoResponsibleDepartment
from catalog_svc.regions.service import RegionNotFound
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.problems import InvalidRegion, ValidationFailed

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


@router.post(
    "/{code}/plan",
    response_model=BundlePlan,
    responses=problem_responses(
        BundleNotFound,
        BundleNotSpecified,
        BundleAnswersInvalid,
        ValidationFailed,
        RegionNotFound,
        InvalidRegion,
        NoResponsibleDepartment,
    ),
)
async def plan_bundle(
    code: Annotated[str, Path(description="e.g. birth, enterprise_startup", examples=["birth"])],
    body: BundlePlanRequest,
    session: SessionDep,
    snapshot: SnapshotDep,
    request: Request,
) -> Response:
    """The bundle for one applicant (public: nothing is stored): the items that apply given her
    answers, each with the department that handles it for her region and its tier, and the
    items left out with the condition that left each out. case-svc files one child case per
    applying item. The same catalogue, region and answers give the same plan: the answer
    carries an ETag, and a request naming it in If-None-Match gets 304."""
    found = await service.plan(
        session, snapshot, code=code, region_text=body.region, answers=body.answers
    )
    plan = BundlePlan(
        bundle_code=found.bundle.code,
        bundle_name=found.bundle.name,
        region_code=found.region.code,
        applying=[
            PlannedItem.model_validate(
                {
                    "item_code": entry.item.code,
                    "item_name": entry.item.name,
                    "handling_tier": entry.item.handling_tier,
                    "department": DepartmentRead.model_validate(entry.department),
                    "condition": entry.condition,
                }
            )
            for entry in found.applying
        ],
        left_out=[
            LeftOutItem.model_validate(
                {
                    "item_code": entry.item_code,
                    "item_name": entry.item_name,
                    "reason": entry.reason,
                    "condition": entry.condition,
                }
            )
            for entry in found.left_out
        ],
    )
    return cached_json(request, plan)
