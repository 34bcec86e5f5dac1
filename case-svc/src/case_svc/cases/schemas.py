"""What the API takes and gives for cases."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from case_svc.workflow.state_machine import Action, CaseStatus, Role
from servicekit.regions import RegionCode


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Letters, digits, dot, dash and underscore: the code goes into the catalog's URL path.
    item_code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    form: dict[str, Any] = Field(
        default_factory=dict, description="The item's form, checked against its form_schema"
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


class CaseSummary(BaseModel):
    """A case in a list: no form, no history."""

    case_no: str
    status: CaseStatus
    item_code: str
    item_name: str
    applicant_id: str
    actor_id: str | None
    department_id: str
    department_name: str
    region_code: str = Field(description="The handling department's region (official code)")
    applicant_region: str
    submitted_at: dt.datetime
    completed_at: dt.datetime | None
    due_at: dt.datetime | None
    version: int


class CaseRead(CaseSummary):
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
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end")


class TransitionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    note: str | None = Field(default=None, max_length=1000)
