"""What the API gives for service items."""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from catalog_svc.departments.schemas import DepartmentRead, Tier
from catalog_svc.models import ServiceItem
from catalog_svc.quality.board import QualityBoard
from catalog_svc.quality.schemas import QUALITY_EXAMPLE, QualityRead
from catalog_svc.reference.items import visits_value
from servicekit.pagination import MAX_CURSOR_LENGTH
from servicekit.regions import RegionCodeStr

Subject = Literal["person", "enterprise"]
ProcessingMode = Literal["instant", "review"]
DecisionApproval = Literal["single", "second_person"]
#: A certificate type, as the exchange's certificate library names it.
CertificateType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
ISSUES_CERTIFICATE_DESCRIPTION = (
    "The type of electronic certificate a completed application issues, as the exchange's "
    "certificate library names it (e.g. food_business_licence): the handler delivering the "
    "result gives its number, and case-svc publishes it to the library. None: it issues none. "
    "Only an item a department reviews issues one"
)
#: What case-svc's workflow reads to know who decides a reviewed application.
DECISION_APPROVAL_DESCRIPTION = (
    "Who decides a reviewed application: single, the handler who reviewed it; second_person, "
    "a supervisor who did not review it approves the handler's decision. An instant item is "
    "always single"
)


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


#: The content of the item every example shows, as the catalogue publishes it (its first
#: version): the administration examples show the same item as a draft and as versions.
ID_CARD_LOSS_REPORT: dict[str, Any] = {
    "name": "居民身份证挂失申报",
    "aliases": ["身份证挂失", "身份证丢失", "身份证丢了", "身份证遗失", "身份证掉了", "身份证被盗"],
    "keywords": ["身份证", "挂失", "丢失", "遗失", "被盗", "证件丢失"],
    "department_type": "public_security",
    "handling_tier": "county",
    "subject": "person",
    "topics": ["证件办理", "户籍"],
    "visits": 0,
    "processing_mode": "instant",
    "decision_approval": "single",
    "issues_certificate": None,
    "min_loa": 3,
    "legal_working_days": None,
    "promised_working_days": 0,
    "fee": {"free": True, "amount_cny": None, "basis": None},
    "materials": [],
    "form_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "居民身份证挂失申报",
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "title": "姓名",
                "maxLength": 50,
                "x-prefill": {"resource": "population", "field": "name"},
                "x-applicant": "name",
            },
            "id_number": {
                "type": "string",
                "title": "公民身份号码",
                "pattern": "^[0-9]{17}[0-9X]$",
                "x-prefill": {"resource": "population", "field": "id_number"},
                "x-applicant": "id_number",
            },
            "registered_address": {
                "type": "string",
                "title": "户籍地址",
                "maxLength": 200,
                "x-prefill": {"resource": "population", "field": "registered_address"},
            },
            "contact_phone": {"type": "string", "title": "联系电话", "pattern": "^1[3-9][0-9]{9}$"},
            "loss_reason": {
                "type": "string",
                "title": "挂失原因",
                "oneOf": [
                    {"const": "lost", "title": "遗失"},
                    {"const": "stolen", "title": "被盗"},
                    {"const": "other", "title": "其他"},
                ],
            },
            "loss_date": {"type": "string", "format": "date", "title": "丢失日期"},
            "loss_place": {"type": "string", "title": "丢失地点", "maxLength": 200},
        },
        "required": ["name", "id_number", "loss_reason", "loss_date", "contact_phone"],
        "additionalProperties": False,
    },
    "offered_in": [],
    "illustrative": [],
    "notes": "挂失后原证作废；补领另行申请（居民身份证补领）。",
}


class ItemRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "public_security.id_card_loss_report",
                    **ID_CARD_LOSS_REPORT,
                    "version": 1,
                    "status": "published",
                    "quality": QUALITY_EXAMPLE,
                }
            ]
        }
    )

    code: str = Field(description="<department type>.<slug>, stable for the item's life")
    name: str
    aliases: list[str]
    keywords: list[str]
    department_type: str
    handling_tier: Tier
    subject: Subject
    topics: list[str]
    processing_mode: ProcessingMode
    decision_approval: DecisionApproval = Field(
        description=DECISION_APPROVAL_DESCRIPTION, examples=["single", "second_person"]
    )
    issues_certificate: CertificateType | None = Field(
        description=ISSUES_CERTIFICATE_DESCRIPTION, examples=[None, "food_business_licence"]
    )
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
        "the data resource and field that can fill it; a field's x-applicant (name, id_number, "
        "credit_code, enterprise_name) holds the applicant's own identity, filled from her "
        "verified identity and refused when the form names anyone else"
    )
    offered_in: list[str] = Field(description="Regions the item is listed in; empty: everywhere")
    illustrative: list[str] = Field(
        description="Fields whose figures have not been checked against an official source"
    )
    notes: str | None
    version: int
    status: Literal["published", "withdrawn"]
    quality: QualityRead = Field(
        description="How its departments serve it: ratings, bad reviews, actual working days; "
        "live, counted from the platform's events"
    )


def item_read(item: ServiceItem, board: QualityBoard) -> ItemRead:
    """The public document of an item, with its live quality."""
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
            "decision_approval": item.decision_approval,
            "issues_certificate": item.issues_certificate,
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
            "quality": board.of_item(item.code, item.promised_working_days),
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
                    "quality": QUALITY_EXAMPLE,
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
    quality: QualityRead = Field(
        description="How this department serves the item: its ratings, bad reviews and "
        "actual working days"
    )


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
    quality: QualityRead = Field(description="How its departments serve it, all together")


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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "code": "public_security.id_card_loss_report",
                            "name": "居民身份证挂失申报",
                            "version": 2,
                            "status": "published",
                            "changed_at": "2026-11-26T02:05:44Z",
                        },
                        {
                            "code": "public_security.dog_licence_synthetic",
                            "name": "犬只登记证办理（合成数据）",
                            "version": 1,
                            "status": "withdrawn",
                            "changed_at": "2026-11-26T03:12:30Z",
                        },
                    ],
                    "next_cursor": "eyJhdCI6IjIwMjYtMTEtMjZUMDM6MTI6MzArMDA6MDAiLCJjb2RlIjoicHVi"
                    "bGljX3NlY3VyaXR5LmRvZ19saWNlbmNlX3N5bnRoZXRpYyJ9.KrJ4jhWTaWWxRS5biRzIsA",
                }
            ]
        }
    )

    items: list[ItemChange]
    next_cursor: str | None


class ItemPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "code": "public_security.id_card_loss_report",
                            "name": "居民身份证挂失申报",
                            "department_type": "public_security",
                            "handling_tier": "county",
                            "subject": "person",
                            "processing_mode": "instant",
                            "min_loa": 3,
                            "score": 35.2874,
                            "quality": QUALITY_EXAMPLE,
                        },
                        {
                            "code": "human_resources_social_security.social_card_loss_report",
                            "name": "社会保障卡挂失",
                            "department_type": "human_resources_social_security",
                            "handling_tier": "county",
                            "subject": "person",
                            "processing_mode": "instant",
                            "min_loa": 2,
                            "score": 14.4925,
                            "quality": QUALITY_EXAMPLE,
                        },
                    ],
                    "next_cursor": "eyJvZmZzZXQiOjJ9.SYomcfULt2-jm7ZR6fsXRQ",
                    "facets": {
                        "department_type": {
                            "public_security": 6,
                            "human_resources_social_security": 2,
                        },
                        "handling_tier": {"county": 8},
                        "subject": {"person": 8},
                        "topic": {"证件办理": 6, "户籍": 4, "社会保障": 2, "交通出行": 1},
                    },
                }
            ]
        }
    )

    items: list[ItemSummary]
    next_cursor: str | None
    facets: dict[str, dict[str, int]] = Field(
        description="Over every match of the query and filters (not only this page): how many "
        "items per department_type, handling_tier, subject and topic"
    )
