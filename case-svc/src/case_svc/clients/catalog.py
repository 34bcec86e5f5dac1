"""catalog-svc, as case-svc needs it: a service item, the department responsible for it in a
region, a department by its id (a transfer's target), and a one-issue bundle's plan for an
applicant (the items that apply and who handles each). All are public reads, asked through
the gateway without the caller's token. ``CatalogReads`` keeps the items and handlers that
applications are filed with for a while (the catalog changes when an administrator publishes).

The catalog's own problems about what the applicant asked for (no such item, region or
department) are passed on with the catalog's status and code, so the app sees one vocabulary;
anything else from the catalog (unreachable, 5xx, a shape we cannot read) is a 503.
"""

from typing import Any, Literal, TypeVar

import httpx
from cachetools import TTLCache
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from case_svc.workflow.state_machine import DecisionApproval
from servicekit.http import raise_for_problem
from servicekit.problems import (
    FIELD_ERRORS,
    DomainError,
    InvalidRegion,
    NotFound,
    UpstreamUnavailable,
    extension_members,
)
from servicekit.regions import REGION_CODE_PATTERN, RegionCode

M = TypeVar("M", bound=BaseModel)


class ItemNotFound(NotFound):
    code = "item_not_found"
    title = "No such service item"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]}
    )


class RegionNotFound(NotFound):
    code = "region_not_found"
    title = "No such region"
    members = extension_members(
        region_code={"type": "string", "pattern": REGION_CODE_PATTERN, "examples": ["330302"]}
    )


class NoResponsibleDepartment(NotFound):
    code = "no_responsible_department"
    title = "No department handles this item for this region"
    members = extension_members(
        region_code={"type": "string", "pattern": REGION_CODE_PATTERN, "examples": ["330302"]},
        reason={
            "type": "string",
            "description": "Why no department answers",
            "enum": ["retired_without_successor", "region_above_handling_tier", "no_department"],
            "examples": ["no_department"],
        },
        department_type={"type": "string", "examples": ["public_security"]},
        handling_tier={"type": "string", "examples": ["county"]},
    )


class ItemNotOfferedInRegion(DomainError):
    status = 422
    code = "item_not_offered_in_region"
    title = "This item is not offered in this region"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]},
        region_code={"type": "string", "pattern": REGION_CODE_PATTERN, "examples": ["330302"]},
        offered_in={
            "type": "array",
            "items": {"type": "string"},
            "description": "The regions the item is offered in",
            "examples": [["3301"]],
        },
    )


class DepartmentNotFound(NotFound):
    code = "department_not_found"
    title = "No department has this id"


class BundleNotFound(NotFound):
    code = "bundle_not_found"
    title = "No such one-issue bundle"
    members = extension_members(bundle_code={"type": "string", "examples": ["birth"]})


class BundleNotSpecified(DomainError):
    status = 422
    code = "bundle_not_specified"
    title = "This bundle is only named: it has no items to plan"
    members = extension_members(bundle_code={"type": "string", "examples": ["credit_repair"]})


class BundleAnswersInvalid(DomainError):
    status = 422
    code = "bundle_answers_invalid"
    title = "The answers do not fit the bundle's form"
    members = extension_members(
        errors={
            **FIELD_ERRORS,
            "examples": [
                [
                    {
                        "field": "body.answers.mother_employee_insured",
                        "message": "decides whether an item applies: answer it",
                        "type": "required",
                    }
                ]
            ],
        }
    )


#: The catalog's problems that concern the request, passed on as they are.
_PASSED_ON: tuple[type[DomainError], ...] = (
    ItemNotFound,
    RegionNotFound,
    NoResponsibleDepartment,
    InvalidRegion,
    ItemNotOfferedInRegion,
    DepartmentNotFound,
)
#: And those of a bundle's plan.
BUNDLE_PROBLEMS: tuple[type[DomainError], ...] = (
    BundleNotFound,
    BundleNotSpecified,
    BundleAnswersInvalid,
    RegionNotFound,
    InvalidRegion,
    NoResponsibleDepartment,
)


class CatalogItem(BaseModel):
    """The fields of a catalog item case-svc relies on (the catalog sends more)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    name: str
    subject: Literal["person", "enterprise"]
    processing_mode: Literal["instant", "review"]
    min_loa: int = Field(ge=1, le=3)
    promised_working_days: int | None = Field(default=None, ge=0)
    legal_working_days: int | None = Field(default=None, ge=0)
    decision_approval: DecisionApproval = DecisionApproval.SINGLE
    #: The electronic certificate a completed case of it issues; None: none.
    issues_certificate: str | None = Field(default=None, max_length=64)
    form_schema: dict[str, Any]
    version: int | str
    status: str

    @property
    def published(self) -> bool:
        return self.status == "published"


class Department(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    type: str
    tier: str
    region_code: RegionCode


class ResponsibleDepartment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    item_code: str
    region_code: RegionCode
    department: Department


class PlannedItem(BaseModel):
    """An item of a bundle that applies to the applicant, and who handles it for her region."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    item_code: str
    item_name: str
    department: Department


class LeftOutItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    item_code: str
    item_name: str
    reason: str


class BundlePlan(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bundle_code: str
    bundle_name: str
    region_code: RegionCode
    applying: list[PlannedItem]
    left_out: list[LeftOutItem]


async def _get(http: httpx.AsyncClient, path: str, params: dict[str, str] | None) -> httpx.Response:
    try:
        return await http.get(path, params=params)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("catalog-svc could not be reached") from exc


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable("catalog-svc answered in an unexpected shape") from exc


async def fetch_item(http: httpx.AsyncClient, item_code: str) -> CatalogItem:
    response = await _get(http, f"/catalog/v1/items/{item_code}", None)
    raise_for_problem(response, upstream="catalog-svc", passed_on=_PASSED_ON)
    return _parse(CatalogItem, response)


async def responsible_department(
    http: httpx.AsyncClient, item_code: str, region: RegionCode
) -> ResponsibleDepartment:
    response = await _get(
        http, f"/catalog/v1/items/{item_code}/handler", {"region": region.official}
    )
    raise_for_problem(response, upstream="catalog-svc", passed_on=_PASSED_ON)
    return _parse(ResponsibleDepartment, response)


async def fetch_department(http: httpx.AsyncClient, department_id: str) -> Department:
    response = await _get(http, f"/catalog/v1/departments/{department_id}", None)
    raise_for_problem(response, upstream="catalog-svc", passed_on=_PASSED_ON)
    return _parse(Department, response)


async def plan_bundle(
    http: httpx.AsyncClient, code: str, region: RegionCode, answers: dict[str, Any]
) -> BundlePlan:
    """The bundle for this applicant: never kept, since it depends on her answers."""
    try:
        response = await http.post(
            f"/catalog/v1/bundles/{code}/plan",
            json={"region": region.official, "answers": answers},
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("catalog-svc could not be reached") from exc
    raise_for_problem(response, upstream="catalog-svc", passed_on=BUNDLE_PROBLEMS)
    return _parse(BundlePlan, response)


class CatalogReads:
    """The items and handlers applications are filed with, as the catalog last answered, kept
    ``ttl_seconds`` (``CASE_CATALOG_CACHE_SECONDS``): every application would otherwise ask
    the catalog twice through the gateway for what changes only when an administrator
    publishes. A change reaches filing within that time; a refusal (no such item, no handler)
    is asked again every time. Per process, and per app (tests build one each)."""

    def __init__(self, ttl_seconds: float, *, max_entries: int = 4096) -> None:
        self._items: TTLCache[str, CatalogItem] = TTLCache(max_entries, ttl_seconds)
        self._handlers: TTLCache[tuple[str, str], ResponsibleDepartment] = TTLCache(
            max_entries, ttl_seconds
        )

    async def item(self, http: httpx.AsyncClient, item_code: str) -> CatalogItem:
        item = self._items.get(item_code)
        if item is None:
            item = self._items[item_code] = await fetch_item(http, item_code)
        return item

    async def handler(
        self, http: httpx.AsyncClient, item_code: str, region: RegionCode
    ) -> ResponsibleDepartment:
        key = (item_code, region.official)
        handler = self._handlers.get(key)
        if handler is None:
            handler = self._handlers[key] = await responsible_department(http, item_code, region)
        return handler
