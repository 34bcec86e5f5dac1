"""The one-issue application as it is filed and as its applicant follows it."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.regions import RegionCode

#: Where the application stands: ``filing`` (a retry files the rest), ``compensated`` (a part
#: was refused and those filed before it withdrawn); once filed, from its children's statuses:
#: ``action_needed`` (one waits on the applicant's supplement), ``in_progress``, ``completed``
#: (every part completed) or ``concluded`` (every part ended, not all completed).
BundleStatus = Literal[
    "filing", "compensated", "action_needed", "in_progress", "completed", "concluded"
]

_CHILD_EXAMPLE: dict[str, Any] = {
    "item_code": "medical_security.maternity_allowance",
    "item_name": "生育津贴支付",
    "department_id": "330300-medical_security",
    "department_name": "温州市医疗保障局",
    "department_tier": "city",
    "case_no": "330300-20261207-000004",
    "status": "submitted",
    "due_at": "2026-12-21T15:59:59Z",
}
_EXAMPLE: dict[str, Any] = {
    "application_no": "330302-B20261207-3f9a0c1b5e27",
    "bundle_code": "birth",
    "bundle_name": "出生一件事",
    "status": "in_progress",
    "children": [_CHILD_EXAMPLE],
    "left_out": [],
    "created_at": "2026-12-07T02:00:00Z",
}


class BundleApplicationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bundle_code": "birth",
                    "form": {
                        "child_name": "林小满",
                        "child_birth_date": "2026-12-01",
                        "mother_employee_insured": True,
                    },
                }
            ]
        },
    )

    #: Letters, digits and underscore: the code goes into the catalog's URL path.
    bundle_code: str = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9_]+$")
    form: dict[str, Any] = Field(
        default_factory=dict,
        description="The bundle's merged form, each shared field once: it decides which items "
        "apply (the catalog's plan) and each child case is filed with the fields of its own "
        "item's form. Fields of the applicant's identity may be left out, as for one case",
    )
    applicant_region: RegionCode | None = Field(
        default=None,
        description="Where the applicant applies; defaults to the token's registered region",
    )


class BundleChildRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_CHILD_EXAMPLE]})

    item_code: str
    item_name: str
    department_id: str
    department_name: str
    department_tier: str
    case_no: str | None = Field(description="Its case, once filed")
    status: str | None = Field(
        description="Its case's status, read from it; null before it is filed, or when its "
        "instance could not be read just now"
    )
    due_at: dt.datetime | None = Field(description="When its case is promised")


class LeftOutRead(BaseModel):
    item_code: str
    item_name: str
    reason: str = Field(examples=["condition_not_met"])


class BundleApplicationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    application_no: str = Field(description="The applicant's county, B, the day, 12 hex digits")
    bundle_code: str
    bundle_name: str
    status: BundleStatus
    children: list[BundleChildRead]
    left_out: list[LeftOutRead] = Field(description="The bundle's items that do not apply to her")
    created_at: dt.datetime


class BundleApplicationSummary(BaseModel):
    application_no: str
    bundle_code: str
    bundle_name: str
    status: Literal["filing", "filed", "compensated"] = Field(
        description="Its filing; its progress is on the application itself"
    )
    children: int
    created_at: dt.datetime


class BundleApplicationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "application_no": "330302-B20261207-3f9a0c1b5e27",
                            "bundle_code": "birth",
                            "bundle_name": "出生一件事",
                            "status": "filed",
                            "children": 4,
                            "created_at": "2026-12-07T02:00:00Z",
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[BundleApplicationSummary]
    next_cursor: str | None


class BundleDraftCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"bundle_code": "birth", "answers": {"mother_employee_insured": True}}]
        },
    )

    bundle_code: str = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9_]+$")
    answers: dict[str, Any] = Field(
        default_factory=dict,
        description="Her answers to the questions that decide which items apply (the "
        "bundle's conditions)",
    )
    applicant_region: RegionCode | None = Field(
        default=None,
        description="Where the applicant applies; defaults to the token's registered region",
    )


class BundleDraftChild(BaseModel):
    item_code: str
    item_name: str
    department_id: str
    department_name: str
    department_tier: str
    draft_no: str = Field(description="Its draft application, where its department keeps it")


class BundleDraftRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "application_no": "330302-B20261207-3f9a0c1b5e27",
                    "bundle_code": "birth",
                    "bundle_name": "出生一件事",
                    "children": [
                        {
                            "item_code": "public_security.birth_registration",
                            "item_name": "出生登记",
                            "department_id": "330302-public_security",
                            "department_name": "温州市公安局鹿城区分局",
                            "department_tier": "county",
                            "draft_no": "330302-D20261207-3f9a0c1b5e27",
                        }
                    ],
                    "form": {"name": "杨雅雅", "birth_certificate_number": "N000000027"},
                    "provenance": {
                        "name": {
                            "source": "verified_identity",
                            "locked": True,
                            "at": "2026-12-07T02:00:00Z",
                            "item_code": "public_security.birth_registration",
                        }
                    },
                    "consents_to_fill": [],
                    "left_out": [],
                    "created_at": "2026-12-07T02:00:00Z",
                }
            ]
        }
    )

    application_no: str = Field(description="The number the application keeps once submitted")
    bundle_code: str
    bundle_name: str
    children: list[BundleDraftChild]
    form: dict[str, Any] = Field(description="Every child's form as one: each field once")
    provenance: dict[str, Any] = Field(
        description="Per filled field, where its value came from (as a draft's), and the "
        "item whose draft it was filled in first"
    )
    consents_to_fill: list[dict[str, Any]] = Field(
        description="Every consent that would fill more, each once (as a draft's)"
    )
    left_out: list[LeftOutRead]
    created_at: dt.datetime


class BundleDraftUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"form": {"contact_phone": "13957700000"}}]},
    )

    form: dict[str, Any] = Field(
        description="Values she types or corrects: each goes to every child whose item's form "
        "has the field"
    )
