"""What the API takes and gives for invitations, and the events that bring them."""

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rating_svc.ratings.schemas import RatingKind
from servicekit.case_numbers import CASE_NUMBER_PATTERN, CaseNumberStr
from servicekit.events import CloudEvent
from servicekit.regions import RegionCodeStr


class CaseCompleted(BaseModel):
    """The data of case-svc's ``case.completed``: ids and codes, no personal data."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "case_id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
                    "case_no": "330302-20261126-000001",
                    "item_code": "public_security.id_card_loss_report",
                    "department_id": "330302-public_security",
                    "region_code": "330302",
                    "applicant_id": "0196f3d0-0000-7000-8000-000000000001",
                    "applicant_type": "citizen",
                    "status": "completed",
                }
            ]
        },
    )

    case_id: uuid.UUID
    case_no: str = Field(pattern=CASE_NUMBER_PATTERN)
    item_code: str = Field(min_length=1, max_length=64)
    department_id: str = Field(min_length=1, max_length=64)
    region_code: str = Field(min_length=2, max_length=12)
    applicant_id: str = Field(min_length=1, max_length=64)
    applicant_type: Literal["citizen", "enterprise"]
    status: Literal["completed"]


class InvitationRead(BaseModel):
    id: uuid.UUID
    case_no: CaseNumberStr
    kind: RatingKind = Field(
        description="case: rate the served case; follow_up: rate how the department rectified "
        "its bad review"
    )
    item_code: str
    department_id: str
    region_code: RegionCodeStr
    invited_at: dt.datetime
    expires_at: dt.datetime = Field(description="The end of the time to rate it")
    rectification_id: uuid.UUID | None = Field(
        default=None, description="The rectification a follow-up rating is about"
    )


class InvitationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1b",
                            "case_no": "330302-20261126-000001",
                            "kind": "case",
                            "item_code": "public_security.id_card_loss_report",
                            "department_id": "330302-public_security",
                            "region_code": "330302",
                            "invited_at": "2026-11-26T02:05:44Z",
                            "expires_at": "2026-12-26T02:05:44Z",
                            "rectification_id": None,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[InvitationRead]
    next_cursor: str | None


class CaseCompletedEvent(CloudEvent[CaseCompleted]):
    """``case.completed`` as case-svc's relay posts it (CloudEvents 1.0, structured JSON)."""

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "specversion": "1.0",
                    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1c",
                    "source": "/cases",
                    "type": "case.completed",
                    "subject": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
                    "time": "2026-11-26T02:05:44Z",
                    "datacontenttype": "application/json",
                    "data": {
                        "case_id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
                        "case_no": "330302-20261126-000001",
                        "item_code": "public_security.id_card_loss_report",
                        "department_id": "330302-public_security",
                        "region_code": "330302",
                        "applicant_id": "0196f3d0-0000-7000-8000-000000000001",
                        "applicant_type": "citizen",
                        "status": "completed",
                    },
                }
            ]
        },
    )
