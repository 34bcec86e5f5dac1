"""What the API takes and gives for appeals."""

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.case_numbers import CaseNumberStr
from servicekit.regions import RegionCodeStr

Grounds = Literal["mistaken", "malicious"]
AppealStatus = Literal["pending", "upheld", "rejected"]
Outcome = Literal["upheld", "rejected"]
APPEAL_STATUSES: tuple[AppealStatus, ...] = ("pending", "upheld", "rejected")


def as_appeal_status(value: str) -> AppealStatus:
    """A stored status, as the API names it."""
    for known in APPEAL_STATUSES:
        if known == value:
            return known
    raise ValueError(f"not an appeal status: {value!r}")


#: One piece of evidence: a reference to a record the department keeps (a call recording's id,
#: a document's number, a counter camera's clip) or a short text; files are not taken here.
Evidence = Annotated[str, Field(min_length=1, max_length=500)]
#: The most pieces of evidence one appeal carries.
MAX_EVIDENCE = 10

_APPEAL: dict[str, Any] = {
    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f3a",
    "rating_id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
    "case_no": "330302-20261207-000001",
    "item_code": "public_security.id_card_loss_report",
    "department_id": "330302-public_security",
    "region_code": "330302",
    "decider_department_id": "330300-public_security",
    "grounds": "mistaken",
    "reasons": "申请人评价的是另一部门的事项，本局当日已办结",
    "evidence": ["窗口录像 2026-12-07 10:02 第3号窗口", "受理回执编号 330302-0001"],
    "filed_by": "staff-handler-1",
    "filed_at": "2026-12-07T03:00:00Z",
    "appeal_due_at": "2026-12-14T15:59:59Z",
    "status": "pending",
    "decided_by": None,
    "decided_at": None,
    "decision_note": None,
}


class AppealCreate(BaseModel):
    """A department's appeal of a bad review of its case, with reasons and evidence."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "grounds": "mistaken",
                    "reasons": "申请人评价的是另一部门的事项，本局当日已办结",
                    "evidence": ["窗口录像 2026-12-07 10:02 第3号窗口"],
                }
            ]
        },
    )

    grounds: Grounds = Field(
        description="mistaken: the review is not about this department's service (误评); "
        "malicious: given in bad faith (恶意差评)"
    )
    reasons: str = Field(min_length=10, max_length=2000, description="Why; kept sealed")
    evidence: list[Evidence] = Field(
        min_length=1,
        max_length=MAX_EVIDENCE,
        description="References to records the department keeps, or short texts; kept sealed",
        examples=[["窗口录像 2026-12-07 10:02 第3号窗口"]],
    )


class AppealDecisionCreate(BaseModel):
    """The tier above's decision."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "upheld", "note": "录像显示当日已办结"}]},
    )

    outcome: Outcome = Field(
        description="upheld: the review leaves the published figures (kept for audit) and its "
        "open rectification closes as appealed; rejected: it stands"
    )
    note: str = Field(min_length=1, max_length=2000, description="Why; kept sealed")


class AppealRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_APPEAL]})

    id: uuid.UUID
    rating_id: uuid.UUID
    case_no: CaseNumberStr
    item_code: str
    department_id: str
    region_code: RegionCodeStr
    decider_department_id: str = Field(
        description="The department of the tier above whose supervisors decide"
    )
    grounds: Grounds
    reasons: str
    evidence: list[str]
    filed_by: str
    filed_at: dt.datetime
    appeal_due_at: dt.datetime = Field(description="The end of the time to appeal the review")
    status: AppealStatus
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None


class AppealList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_APPEAL], "next_cursor": None}]}
    )

    items: list[AppealRead]
    next_cursor: str | None


class AppealOutcomeRead(BaseModel):
    """An appeal of a review as its citizen sees it: where it stands, not the department's
    reasons."""

    status: AppealStatus
    decided_at: dt.datetime | None
    excluded_from_figures: bool = Field(
        description="Whether the review no longer counts in the published figures"
    )
