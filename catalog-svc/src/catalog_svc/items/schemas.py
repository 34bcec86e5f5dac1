"""What the API gives for service items."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog_svc.departments.schemas import DepartmentRead, Tier
from catalog_svc.models import ServiceItem
from catalog_svc.reference.items import visits_value
from servicekit.pagination import MAX_CURSOR_LENGTH
from servicekit.regions import RegionCodeStr

Subject = Literal["person", "enterprise"]
ProcessingMode = Literal["instant", "review"]


class Fee(BaseModel):
    free: bool
    amount_cny: str | None = Field(default=None, description="Decimal string, e.g. '20.00'")
    basis: str | None = None


class Material(BaseModel):
    name: str
    required: bool
    provided_as: Literal["data_sharing", "upload", "paper"] = Field(
        description="data_sharing: fetched from the issuing department, the applicant supplies "
        "nothing; upload: a scan or photo; paper: shown at the counter"
    )
    note: str | None = None


class ItemRead(BaseModel):
    code: str = Field(description="<department type>.<slug>, stable for the item's life")
    name: str
    aliases: list[str]
    keywords: list[str]
    department_type: str
    handling_tier: Tier
    subject: Subject
    topics: list[str]
    processing_mode: ProcessingMode
    min_loa: int = Field(ge=1, le=3)
    visits: Literal[0, 1, "on_site"] = Field(
        description="0: nothing to attend; 1: at most one visit; on_site: done at the counter"
    )
    legal_working_days: int | None
    promised_working_days: int | None
    fee: Fee
    materials: list[Material]
    form_schema: dict[str, Any] = Field(
        description="JSON Schema (2020-12) of the application form; a field's x-prefill names "
        "the data resource and field that can fill it"
    )
    offered_in: list[str] = Field(description="Regions the item is listed in; empty: everywhere")
    illustrative: list[str] = Field(
        description="Fields whose figures have not been checked against an official source"
    )
    notes: str | None
    version: int
    status: Literal["published", "withdrawn"]


def item_read(item: ServiceItem) -> ItemRead:
    """The public document of an item."""
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


class HandlerRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_code": "public_security.id_card_loss_report",
                    "region_code": "330302026003",
                    "resolved_region_code": "330302026003",
                    "department": {
                        "id": "330302-public_security",
                        "name": "温州市公安局鹿城区分局",
                        "type": "public_security",
                        "tier": "county",
                        "region_code": "330302",
                    },
                }
            ]
        }
    )

    item_code: str
    region_code: RegionCodeStr = Field(description="The applicant's region, in official form")
    resolved_region_code: RegionCodeStr = Field(
        description="The current region resolution started from: the successor of a retired one"
    )
    department: DepartmentRead


class ItemSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    department_type: str
    handling_tier: Tier
    subject: Subject
    processing_mode: ProcessingMode
    min_loa: int
    score: float | None = Field(description="Relevance to the query; null when browsing")


class SearchQuery(BaseModel):
    """The query of ``GET /catalog/v1/items``: a search with filters, or the change feed.
    Other parameters are ignored, as FastAPI ignores them."""

    q: str = Field(
        default="",
        max_length=100,
        description="Words, a question (身份证丢了), pinyin (sfzgs, gongjijin); "
        "empty: every item, by code",
    )
    region: RegionCodeStr | None = Field(
        default=None, max_length=32, description="Only items some department serves in this region"
    )
    subject: Subject | None = None
    department_type: str | None = Field(default=None, max_length=48)
    tier: Tier | None = None
    limit: int | None = Field(default=None, ge=1)
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_LENGTH)
    changed_since: dt.datetime | None = Field(
        default=None,
        description="The change feed instead of a search: items changed (published or "
        "withdrawn) after this time (ISO 8601; naive: UTC), oldest first",
    )


class ItemChange(BaseModel):
    code: str
    name: str
    version: int
    status: Literal["published", "withdrawn"]
    changed_at: dt.datetime


class ItemChangeFeed(BaseModel):
    """The change feed: items changed after ``changed_since``, oldest change first."""

    items: list[ItemChange]
    next_cursor: str | None


class ItemPage(BaseModel):
    items: list[ItemSummary]
    next_cursor: str | None
    facets: dict[str, dict[str, int]] = Field(
        description="Over every match of the query and filters (not only this page): how many "
        "items per department_type, handling_tier, subject and topic"
    )
