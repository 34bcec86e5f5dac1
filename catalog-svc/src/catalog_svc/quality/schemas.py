"""The events catalog-svc counts, and the live quality it shows of an item."""

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.events import CloudEvent

CASE_COMPLETED = "case.completed"
RATING_CREATED = "rating.created"
APPEAL_DECIDED = "appeal.decided"

_Code = Annotated[str, Field(min_length=1, max_length=64)]
_Level = Annotated[int, Field(ge=1, le=5)]


class CaseCompleted(BaseModel):
    """case-svc's ``case.completed``: ids and codes (the rest of its data is not read)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: uuid.UUID
    item_code: _Code
    department_id: _Code
    #: The working days the case took on the clock; absent from events of earlier versions,
    #: which count as completed without a duration.
    working_days_taken: int | None = Field(default=None, ge=0, le=3650)


class RatingCreated(BaseModel):
    """rating-svc's ``rating.created``: a first rating of a case (``kind`` case) or the
    follow-up of a rectification (not counted here)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rating_id: uuid.UUID
    item_code: _Code
    department_id: _Code
    kind: str = Field(max_length=16, examples=["case", "follow_up"])
    level: _Level
    bad_review: bool


class AppealDecided(BaseModel):
    """rating-svc's ``appeal.decided``: upheld, the review it concerns leaves the figures."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    appeal_id: uuid.UUID
    rating_id: uuid.UUID
    item_code: _Code
    department_id: _Code
    status: str = Field(max_length=16, examples=["upheld", "rejected"])
    #: The review's level; absent from events of earlier versions (nothing to take out).
    level: _Level | None = None
    bad_review: bool | None = None


class CaseCompletedEvent(CloudEvent[CaseCompleted]):
    type: Literal["case.completed"]


class RatingCreatedEvent(CloudEvent[RatingCreated]):
    type: Literal["rating.created"]


class AppealDecidedEvent(CloudEvent[AppealDecided]):
    type: Literal["appeal.decided"]


#: What the events endpoint takes, told apart by the envelope's ``type``.
QualityEvent = Annotated[
    CaseCompletedEvent | RatingCreatedEvent | AppealDecidedEvent, Field(discriminator="type")
]

QUALITY_EXAMPLE: dict[str, Any] = {
    "ratings": 212,
    "satisfaction_rate": 0.9858,
    "bad_review_rate": 0.0094,
    "completed_cases": 240,
    "median_working_days": 0.0,
    "promised_working_days": 0,
}


class QualityRead(BaseModel):
    """How the item is served (by every department, or by the one that handles it for a
    region), from its first ratings and its completed cases; no personal data."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [QUALITY_EXAMPLE]})

    ratings: int = Field(description="First ratings of its cases (follow-ups not counted)")
    satisfaction_rate: float | None = Field(
        description="Levels 5, 4 and 3 over ratings; null without ratings"
    )
    bad_review_rate: float | None = Field(
        description="Levels 2 and 1 over ratings; null without ratings"
    )
    completed_cases: int
    median_working_days: float | None = Field(
        description="The median working days a completed case took on the clock (pauses "
        "waiting on the applicant left out); null before any"
    )
    promised_working_days: int | None = Field(description="What the item promises")
