"""What the API gives for one-issue bundles."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog_svc.departments.schemas import DepartmentRead, Tier
from catalog_svc.items.schemas import Subject
from servicekit.regions import RegionCodeStr

#: How a condition reads (``catalog_svc.reference.conditions``), for the documents.
CONDITION_DESCRIPTION = (
    "The condition under which the item applies, over one answer of the merged form: "
    '{"field": f, "equals": v} (exactly v; true is not 1), {"field": f, "in": [v, ...]} '
    '(one of them), or {"field": f, "at_least": n} (a number >= n). null: always applies'
)
CONDITION_EXAMPLE: dict[str, Any] = {"field": "mother_employee_insured", "equals": True}


class BundleSummary(BaseModel):
    code: str
    name: str
    subject: Subject
    specified: bool = Field(description="Whether the catalogue lists its items and form yet")
    item_count: int


class BundleList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "code": "after_death",
                            "name": "身后一件事",
                            "subject": "person",
                            "specified": True,
                            "item_count": 7,
                        },
                        {
                            "code": "bankruptcy_information_check",
                            "name": "企业破产信息核查一件事",
                            "subject": "enterprise",
                            "specified": False,
                            "item_count": 0,
                        },
                        {
                            "code": "enterprise_closure",
                            "name": "企业注销一件事",
                            "subject": "enterprise",
                            "specified": True,
                            "item_count": 2,
                        },
                    ]
                }
            ]
        }
    )

    items: list[BundleSummary]


class BundleItem(BaseModel):
    code: str
    name: str
    department_type: str
    handling_tier: Tier
    min_loa: int
    condition: dict[str, Any] | None = Field(
        default=None, description=CONDITION_DESCRIPTION, examples=[CONDITION_EXAMPLE]
    )


class BundleRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "enterprise_closure",
                    "name": "企业注销一件事",
                    "subject": "enterprise",
                    "specified": True,
                    "items": [
                        {
                            "code": "tax.tax_clearance",
                            "name": "清税申报",
                            "department_type": "tax",
                            "handling_tier": "county",
                            "min_loa": 2,
                        },
                        {
                            "code": "market_regulation.enterprise_deregistration",
                            "name": "企业注销登记",
                            "department_type": "market_regulation",
                            "handling_tier": "county",
                            "min_loa": 2,
                        },
                    ],
                    "form_schema": {
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "title": "企业注销一件事",
                        "type": "object",
                        "properties": {
                            "enterprise_name": {
                                "type": "string",
                                "title": "企业名称",
                                "maxLength": 100,
                            },
                            "unified_social_credit_code": {
                                "type": "string",
                                "title": "统一社会信用代码",
                                "pattern": "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}"
                                "[0-9A-HJ-NPQRTUWXY]{10}$",
                            },
                            "legal_representative": {
                                "type": "string",
                                "title": "法定代表人（负责人）姓名",
                                "maxLength": 50,
                            },
                            "contact_phone": {
                                "type": "string",
                                "title": "联系电话",
                                "pattern": "^1[3-9][0-9]{9}$",
                            },
                            "simplified": {"type": "boolean", "title": "适用简易注销"},
                        },
                        "required": [
                            "enterprise_name",
                            "unified_social_credit_code",
                            "legal_representative",
                            "contact_phone",
                            "simplified",
                        ],
                        "additionalProperties": False,
                    },
                    "field_sources": {
                        "enterprise_name": [
                            "tax.tax_clearance",
                            "market_regulation.enterprise_deregistration",
                        ],
                        "unified_social_credit_code": [
                            "tax.tax_clearance",
                            "market_regulation.enterprise_deregistration",
                        ],
                        "legal_representative": ["tax.tax_clearance"],
                        "contact_phone": [
                            "tax.tax_clearance",
                            "market_regulation.enterprise_deregistration",
                        ],
                        "simplified": ["market_regulation.enterprise_deregistration"],
                    },
                    "min_loa": 2,
                    "illustrative": True,
                }
            ]
        }
    )

    code: str
    name: str
    subject: Subject
    specified: bool
    items: list[BundleItem] = Field(description="In the order the bundle handles them")
    form_schema: dict[str, Any] | None = Field(
        description="One JSON Schema for all the items: a field several items ask for appears "
        "once; null while the bundle is only named"
    )
    field_sources: dict[str, list[str]] = Field(
        description="Form field → the codes of the items it feeds"
    )
    min_loa: int | None = Field(description="The highest min_loa of its items")
    illustrative: bool = Field(
        description="The bundle's make-up was assembled from its public description, not "
        "copied from an official item list"
    )


class BundlePlanRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"region": "330302", "answers": {"mother_employee_insured": True}}]
        },
    )

    region: RegionCodeStr = Field(
        max_length=32,
        description="The applicant's region (her registered residence), any level at or below "
        "the items' tiers; a retired code is followed to its successor",
    )
    answers: dict[str, Any] = Field(
        default_factory=dict,
        description="Answers to the merged form, by field: every field a condition is decided "
        "on (the items' `condition`), and any others the app has already",
    )


class PlannedItem(BaseModel):
    item_code: str
    item_name: str
    handling_tier: Tier
    department: DepartmentRead = Field(
        description="The department that handles the item for the applicant's region"
    )
    condition: dict[str, Any] | None = Field(
        description=CONDITION_DESCRIPTION, examples=[CONDITION_EXAMPLE]
    )


class LeftOutItem(BaseModel):
    item_code: str
    item_name: str
    reason: Literal["condition_not_met", "not_offered_in_region", "withdrawn"] = Field(
        description="condition_not_met: `condition` does not hold for the answers; "
        "not_offered_in_region: the item is not listed in the applicant's region; withdrawn: "
        "the item is no longer offered at all"
    )
    condition: dict[str, Any] | None = Field(
        description=CONDITION_DESCRIPTION, examples=[CONDITION_EXAMPLE]
    )


class BundlePlan(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "bundle_code": "birth",
                    "bundle_name": "出生一件事",
                    "region_code": "330302",
                    "applying": [
                        {
                            "item_code": "public_security.birth_registration",
                            "item_name": "出生登记",
                            "handling_tier": "county",
                            "department": {
                                "id": "330302-public_security",
                                "name": "温州市公安局鹿城区分局",
                                "type": "public_security",
                                "tier": "county",
                                "region_code": "330302",
                            },
                            "condition": None,
                        },
                        {
                            "item_code": "medical_security.maternity_allowance",
                            "item_name": "生育津贴支付",
                            "handling_tier": "city",
                            "department": {
                                "id": "330300-medical_security",
                                "name": "温州市医疗保障局",
                                "type": "medical_security",
                                "tier": "city",
                                "region_code": "330300",
                            },
                            "condition": CONDITION_EXAMPLE,
                        },
                    ],
                    "left_out": [],
                }
            ]
        }
    )

    bundle_code: str
    bundle_name: str
    region_code: RegionCodeStr = Field(description="The applicant's region, in official form")
    applying: list[PlannedItem] = Field(
        description="The items that apply to this applicant, in the bundle's order: one "
        "application to each department"
    )
    left_out: list[LeftOutItem] = Field(
        description="The bundle's other items, and why each does not apply"
    )
