"""What the API gives for one-issue bundles."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from catalog_svc.departments.schemas import Tier
from catalog_svc.items.schemas import Subject

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
