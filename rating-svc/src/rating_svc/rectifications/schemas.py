"""What the API takes and gives for rectifications."""

import datetime as dt
import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from rating_svc.ratings.schemas import Level
from rating_svc.rules.workflow import Role, Status
from servicekit.case_numbers import CaseNumberStr
from servicekit.regions import RegionCodeStr

CallBackChannel = Literal["phone", "sms", "visit", "video", "online_message"]
CALL_BACK_CHANNELS: tuple[CallBackChannel, ...] = (
    "phone",
    "sms",
    "visit",
    "video",
    "online_message",
)

_RECTIFICATION_ID = "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f2a"
_RATING_ID = "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a"


class CallBackCreate(BaseModel):
    """The call-back, as the department's staff member records it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "called_back_at": "2026-12-07T03:30:00Z",
                    "channel": "phone",
                    "note": "已电话联系申请人，了解到窗口等候时间过长，已致歉并说明改进措施",
                }
            ]
        },
    )

    called_back_at: AwareDatetime = Field(
        description="When the citizen was called back: after the bad review, not in the future"
    )
    channel: CallBackChannel = Field(description="How: phone, text, visit, video, message")
    note: str = Field(min_length=1, max_length=2000, description="What was said")


class RectificationCreate(BaseModel):
    """What the department changed, reported once the call-back is recorded."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"note": "增设自助取号机一台，高峰时段增开一个窗口，并对窗口人员进行服务规范培训"}
            ]
        },
    )

    note: str = Field(min_length=1, max_length=4000, description="What was changed")


class ReviewRead(BaseModel):
    """The bad review being rectified, as the department needs it to call back."""

    rating_id: uuid.UUID
    level: Level
    level_key: str
    tags: list[str]
    comment: str | None
    efficiency: int | None
    quality: int | None
    attitude: int | None
    rated_at: dt.datetime


class CallBackRead(BaseModel):
    called_back_at: dt.datetime
    channel: CallBackChannel
    note: str
    recorded_at: dt.datetime


class HistoryEntry(BaseModel):
    action: str = Field(
        description="opened, call_back, rectify, follow_up, follow_up_lapsed, "
        "call_back_overdue, rectification_overdue"
    )
    from_status: Status | None
    status: Status
    actor_id: str | None = Field(
        description="Who; a department's staff are not named to the citizen"
    )
    actor_role: Role
    acting_for: str | None = Field(description="The applicant a delegate acted for")
    note: str | None
    at: dt.datetime


class RectificationSummary(BaseModel):
    id: uuid.UUID
    case_no: CaseNumberStr
    rating_id: uuid.UUID
    department_id: str
    item_code: str
    region_code: RegionCodeStr
    status: Status
    level: Level
    opened_at: dt.datetime
    call_back_due_at: dt.datetime = Field(description="The call-back's deadline (working days)")
    rectification_due_at: dt.datetime = Field(
        description="The rectification's deadline (working days)"
    )
    due_provisional: bool = Field(
        description="A due date falls where the official holiday schedule is not yet published"
    )
    call_back_overdue_at: dt.datetime | None = Field(
        description="When the call-back was found past its time and escalated"
    )
    rectification_overdue_at: dt.datetime | None = Field(
        description="When the rectification was found past its time and escalated"
    )
    escalated_to_department_id: str | None = Field(
        description="The department of the tier above whose supervisors were told"
    )
    closed_at: dt.datetime | None


_SUMMARY_EXAMPLE: dict[str, JsonValue] = {
    "id": _RECTIFICATION_ID,
    "case_no": "330302-20261207-000001",
    "rating_id": _RATING_ID,
    "department_id": "330302-public_security",
    "item_code": "public_security.id_card_loss_report",
    "region_code": "330302",
    "status": "rectifying",
    "level": 1,
    "opened_at": "2026-12-07T02:00:00Z",
    "call_back_due_at": "2026-12-08T15:59:59Z",
    "rectification_due_at": "2026-12-28T15:59:59Z",
    "due_provisional": False,
    "call_back_overdue_at": None,
    "rectification_overdue_at": None,
    "escalated_to_department_id": None,
    "closed_at": None,
}


class RectificationRead(RectificationSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_SUMMARY_EXAMPLE,
                    "review": {
                        "rating_id": _RATING_ID,
                        "level": 1,
                        "level_key": "very_dissatisfied",
                        "tags": ["repeated_visits"],
                        "comment": "跑了三趟才办好",
                        "efficiency": 1,
                        "quality": None,
                        "attitude": None,
                        "rated_at": "2026-12-07T02:00:00Z",
                    },
                    "call_back": {
                        "called_back_at": "2026-12-07T03:30:00Z",
                        "channel": "phone",
                        "note": "已电话联系申请人并致歉",
                        "recorded_at": "2026-12-07T03:40:00Z",
                    },
                    "rectification_note": None,
                    "rectified_at": None,
                    "follow_up_due_at": None,
                    "follow_up_rating_id": None,
                    "history": [
                        {
                            "action": "opened",
                            "from_status": None,
                            "status": "awaiting_call_back",
                            "actor_id": "0196f3d0-0000-7000-8000-000000000001",
                            "actor_role": "applicant",
                            "acting_for": None,
                            "note": None,
                            "at": "2026-12-07T02:00:00Z",
                        }
                    ],
                }
            ]
        }
    )

    review: ReviewRead
    call_back: CallBackRead | None
    rectification_note: str | None = Field(description="What the department changed")
    rectified_at: dt.datetime | None = Field(description="When the rectification was reported")
    follow_up_due_at: dt.datetime | None = Field(
        description="The end of the citizen's time to rate the rectification"
    )
    follow_up_rating_id: uuid.UUID | None
    history: list[HistoryEntry]


class RectificationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_SUMMARY_EXAMPLE], "next_cursor": None}]}
    )

    items: list[RectificationSummary]
    next_cursor: str | None
