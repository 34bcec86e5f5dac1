"""What the API takes and gives for ratings, and the levels the app offers."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rating_svc.appeals.schemas import AppealOutcomeRead
from servicekit.case_numbers import CASE_NUMBER_PATTERN, CaseNumberStr
from servicekit.regions import RegionCodeStr

#: 5 very satisfied, 4 satisfied, 3 basically satisfied, 2 dissatisfied, 1 very dissatisfied.
LEVEL_DESCRIPTION = (
    "5 very satisfied (非常满意), 4 satisfied (满意), 3 basically satisfied (基本满意), "
    "2 dissatisfied (不满意), 1 very dissatisfied (非常不满意); 2 and 1 are bad reviews"
)
Level = Annotated[int, Field(ge=1, le=5, description=LEVEL_DESCRIPTION, examples=[5])]
Score = Annotated[
    int, Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied", examples=[4])
]
Channel = Literal["app", "web", "sms", "counter_device"]
RatingKind = Literal["case", "follow_up"]
TagCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]

#: The longest comment a rating takes, in characters.
COMMENT_MAX_LENGTH = 500
#: The most tags one rating picks.
MAX_TAGS = 10


class RatingCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "case_no": "330302-20261126-000001",
                    "level": 5,
                    "efficiency": 5,
                    "quality": 5,
                    "attitude": 4,
                    "tags": ["done_in_one_visit", "fast"],
                    "comment": "网上办理很方便，不用跑窗口",
                    "channel": "app",
                    "kind": "case",
                }
            ]
        },
    )

    case_no: str = Field(pattern=CASE_NUMBER_PATTERN, examples=["330302-20261126-000001"])
    kind: RatingKind = Field(
        default="case",
        description="case: rate the served case; follow_up: rate how the department rectified "
        "its bad review, once it reported the rectification (the invitation says which)",
    )
    level: Level
    efficiency: Score | None = None
    quality: Score | None = None
    attitude: Score | None = None
    tags: list[TagCode] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="Codes from the level's own list (GET /ratings/v1/levels)",
        examples=[["done_in_one_visit"]],
    )
    comment: str | None = Field(
        default=None,
        min_length=1,
        max_length=COMMENT_MAX_LENGTH,
        description="Free text; kept sealed, shown to the rater and to the department that "
        "rectifies a bad review",
    )
    channel: Channel = Field(
        default="app",
        description="Where the rating is given: the app, the web portal, a text message, the "
        "counter's rating device",
    )


class RatingRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
                    "case_no": "330302-20261126-000001",
                    "kind": "case",
                    "item_code": "public_security.id_card_loss_report",
                    "department_id": "330302-public_security",
                    "region_code": "330302",
                    "level": 5,
                    "level_key": "very_satisfied",
                    "bad_review": False,
                    "efficiency": 5,
                    "quality": 5,
                    "attitude": 4,
                    "tags": ["done_in_one_visit"],
                    "comment": "网上办理很方便，不用跑窗口",
                    "channel": "app",
                    "rated_by": None,
                    "rectification_id": None,
                    "appeal": None,
                    "created_at": "2026-11-26T02:05:44Z",
                }
            ]
        },
    )

    id: uuid.UUID
    case_no: CaseNumberStr
    kind: RatingKind = Field(
        description="case: the rating of the served case; follow_up: the rating of how its bad "
        "review was rectified"
    )
    item_code: str
    department_id: str
    region_code: RegionCodeStr
    level: Level
    level_key: str
    bad_review: bool
    efficiency: int | None
    quality: int | None
    attitude: int | None
    tags: list[str]
    comment: str | None
    channel: Channel
    rated_by: str | None = Field(
        description="The delegate (or an enterprise's representative) who rated for the "
        "applicant; none when the applicant rated herself"
    )
    rectification_id: uuid.UUID | None = Field(
        description="The rectification a bad review of the case opened (on a follow-up rating: "
        "the one it rates)"
    )
    appeal: AppealOutcomeRead | None = Field(
        default=None,
        description="The department's appeal of the review, if any, and its outcome: an upheld "
        "one takes the review out of the published figures",
    )
    created_at: dt.datetime


class TagRead(BaseModel):
    code: str
    name: str


class LevelRead(BaseModel):
    level: Level
    key: str
    name: str
    bad_review: bool
    tags: list[TagRead]


class LevelList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "level": 1,
                            "key": "very_dissatisfied",
                            "name": "非常不满意",
                            "bad_review": True,
                            "tags": [{"code": "overdue", "name": "超期未办结"}],
                        }
                    ]
                }
            ]
        }
    )

    items: list[LevelRead]


CHANNELS: tuple[Channel, ...] = ("app", "web", "sms", "counter_device")
KINDS: tuple[RatingKind, ...] = ("case", "follow_up")


def as_channel(value: str) -> Channel:
    """A stored channel, as the API names it."""
    for channel in CHANNELS:
        if channel == value:
            return channel
    raise ValueError(f"not a channel: {value!r}")


def as_kind(value: str) -> RatingKind:
    for kind in KINDS:
        if kind == value:
            return kind
    raise ValueError(f"not a kind of rating: {value!r}")
