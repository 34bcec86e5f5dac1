"""What the API takes and gives for cases."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from case_svc.workflow.state_machine import Action, CaseStatus, Role
from servicekit.case_numbers import CaseNumberStr
from servicekit.regions import RegionCode, RegionCodeStr


class CaseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_code": "public_security.id_card_loss_report",
                    "form": {
                        "loss_reason": "lost",
                        "loss_date": "2026-11-25",
                        "loss_place": "温州市鹿城区松台街道",
                        "contact_phone": "13957700000",
                    },
                }
            ]
        },
    )

    #: Letters, digits, dot, dash and underscore: the code goes into the catalog's URL path.
    item_code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    form: dict[str, Any] = Field(
        default_factory=dict,
        description="The item's form, checked against its form_schema. Its fields of the "
        "applicant's identity (x-applicant) may be left out: they are filled in from the "
        "verified identity, and a form that names anyone else in them is refused",
    )
    applicant_region: RegionCode | None = Field(
        default=None,
        description="Where the applicant applies; defaults to the token's registered region",
    )


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: CaseStatus
    action: str = Field(description="submit, or the transition that led to this status")
    at: dt.datetime
    actor: str = Field(description="The account that acted, or 'system'")
    actor_role: Role
    note: str | None


#: A case in a list, as its applicant sees it: the examples of the answers that show one.
CASE_SUMMARY_EXAMPLE: dict[str, Any] = {
    "case_no": "330302-20261126-000001",
    "status": "submitted",
    "item_code": "public_security.id_card_loss_report",
    "item_name": "居民身份证挂失申报",
    "applicant_id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
    "actor_id": None,
    "department_id": "330302-public_security",
    "department_name": "温州市公安局鹿城区分局",
    "region_code": "330302",
    "applicant_region": "330302026003",
    "submitted_at": "2026-11-26T01:40:12Z",
    "completed_at": None,
    "due_at": "2026-11-27T09:00:00Z",
    "version": 1,
}


class CaseSummary(BaseModel):
    """A case in a list: no form, no history."""

    case_no: CaseNumberStr
    status: CaseStatus
    item_code: str
    item_name: str
    applicant_id: str
    actor_id: str | None
    department_id: str
    department_name: str
    region_code: RegionCodeStr = Field(
        description="The handling department's region (official code)"
    )
    applicant_region: RegionCodeStr
    submitted_at: dt.datetime
    completed_at: dt.datetime | None
    due_at: dt.datetime | None
    version: int


class CaseRead(CaseSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **CASE_SUMMARY_EXAMPLE,
                    "item_version": "1",
                    "processing_mode": "instant",
                    "applicant_type": "citizen",
                    "form": {
                        "name": "林秀英",
                        "id_number": "330302195203140248",
                        "loss_reason": "lost",
                        "loss_date": "2026-11-25",
                        "loss_place": "温州市鹿城区松台街道",
                        "contact_phone": "13957700000",
                    },
                    "updated_at": "2026-11-26T01:40:12Z",
                    "due_at_provisional": False,
                    "history": [
                        {
                            "status": "submitted",
                            "action": "submit",
                            "at": "2026-11-26T01:40:12Z",
                            "actor": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
                            "actor_role": "applicant",
                            "note": None,
                        }
                    ],
                    "available_actions": ["withdraw"],
                }
            ]
        }
    )

    item_version: str
    processing_mode: str
    applicant_type: str
    form: dict[str, Any]
    updated_at: dt.datetime
    due_at_provisional: bool = Field(
        description="The due date falls where the official holiday schedule is not yet published"
    )
    history: list[HistoryEntry]
    available_actions: list[Action] = Field(description="The transitions the caller may make now")


class CasePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [CASE_SUMMARY_EXAMPLE],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end")


class TransitionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"action": "accept", "note": "材料齐全，予以受理"}]},
    )

    action: Action
    note: str | None = Field(default=None, max_length=1000)
