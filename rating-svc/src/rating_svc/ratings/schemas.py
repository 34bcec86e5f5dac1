"""What the API takes and gives for ratings."""

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from servicekit.case_numbers import CASE_NUMBER_PATTERN

Score = Annotated[int, Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")]


class RatingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_no: str = Field(pattern=CASE_NUMBER_PATTERN, examples=["330302-20261126-000001"])
    efficiency: Score
    quality: Score
    attitude: Score
    comment: str | None = Field(default=None, max_length=1000)


class RatingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_no: str
    item_code: str
    department_id: str
    region_code: str
    efficiency: int
    quality: int
    attitude: int
    comment: str | None
    bad_review: bool
    created_at: dt.datetime
