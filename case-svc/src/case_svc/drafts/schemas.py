"""What the API takes and gives for draft applications."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from case_svc.cases.schemas import FieldProvenance
from servicekit.regions import RegionCode


class DraftCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"item_code": "housing_provident_fund.withdrawal"}]},
    )

    item_code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    applicant_region: RegionCode | None = Field(
        default=None,
        description="Where the applicant applies; defaults to the token's registered region",
    )


class DraftFormUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"form": {"contact_phone": "13957700000"}}]},
    )

    form: dict[str, Any] = Field(
        min_length=1,
        description="The fields she types or corrects (null clears one); each is then marked "
        "typed. Her identity's fields are locked to her verified identity",
    )


class ConsentToFill(BaseModel):
    """A consent she may give (``POST /exchange/v1/me/consents``) to have these fields filled."""

    consumer: str = Field(description="The department that will handle the application")
    resource: str
    fields: list[str] = Field(description="The resource's fields to consent to")
    purpose: str
    case_id: str = Field(description="The draft application's number")
    form_fields: list[str] = Field(description="The form's fields they fill")


_RECEIPT_EXAMPLE: dict[str, JsonValue] = {
    "seq": 42,
    "leaf_index": 41,
    "entry": {
        "seq": 42,
        "at": "2026-12-07T02:00:00.000000+00:00",
        "call_id": "0196f3c3-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
        "kind": "call",
        "consumer": "330302-public_security",
        "actor": "case-svc",
        "resource": "population",
        "fields": ["registered_address"],
        "purpose": "case_prefill",
        "case_id": "330302-D20261207-3f9a0c1b5e27",
        "subject_hash": "ab" * 32,
        "outcome": "allowed",
        "code": None,
    },
    "tree_head": {
        "tree_size": 42,
        "root_hash": "cd" * 32,
        "timestamp": "2026-12-07T02:00:01Z",
        "signature": "c2lnbmVk",
        "key_id": "ledger-1",
    },
}


class DraftRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "draft_no": "330302-D20261207-3f9a0c1b5e27",
                    "status": "draft",
                    "item_code": "public_security.household_register_extract",
                    "item_name": "户籍证明开具",
                    "item_version": "1",
                    "applicant_id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
                    "applicant_type": "citizen",
                    "department_id": "330302-public_security",
                    "department_name": "温州市公安局鹿城区分局",
                    "region_code": "330302",
                    "form_schema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "x-applicant": "name"},
                            "registered_address": {
                                "type": "string",
                                "x-prefill": {
                                    "resource": "population",
                                    "field": "registered_address",
                                },
                            },
                            "contact_phone": {"type": "string"},
                        },
                    },
                    "form": {"name": "林秀英", "registered_address": "温州市鹿城区松台街道"},
                    "provenance": {
                        "name": {
                            "source": "verified_identity",
                            "locked": True,
                            "at": "2026-12-07T02:00:00Z",
                        },
                        "registered_address": {
                            "source": "data_resource",
                            "locked": False,
                            "resource": "population",
                            "resource_field": "registered_address",
                            "provider_department_type": "public_security",
                            "call_id": "0196f3c3-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                            "receipt": _RECEIPT_EXAMPLE,
                            "source_time": "2026-11-01T00:00:00Z",
                            "consent": {
                                "consumer": "330302-public_security",
                                "purpose": "case_prefill",
                                "case_id": "330302-D20261207-3f9a0c1b5e27",
                                "consent_ids": ["0196f3c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f"],
                            },
                            "at": "2026-12-07T02:00:00Z",
                        },
                    },
                    "consents_to_fill": [],
                    "case_no": None,
                    "created_at": "2026-12-07T01:59:00Z",
                    "updated_at": "2026-12-07T02:00:00Z",
                }
            ]
        }
    )

    draft_no: str
    status: Literal["draft", "filed"]
    item_code: str
    item_name: str
    item_version: str
    applicant_id: str
    applicant_type: str
    department_id: str
    department_name: str
    region_code: str
    form_schema: dict[str, Any] = Field(description="The item's form (JSON Schema)")
    form: dict[str, Any] = Field(description="The values filled in so far")
    provenance: dict[str, FieldProvenance] = Field(description="Each filled field's source")
    consents_to_fill: list[ConsentToFill] = Field(
        description="Fields the platform could fill with her consent, one consent each: once "
        "given, POST .../prefill fills them"
    )
    case_no: str | None = Field(default=None, description="The case it became, once filed")
    created_at: dt.datetime
    updated_at: dt.datetime
