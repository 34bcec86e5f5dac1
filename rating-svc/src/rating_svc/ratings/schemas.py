"""What the API takes and gives for ratings."""

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from servicekit.case_numbers import CASE_NUMBER_PATTERN, CaseNumberStr
from servicekit.regions import RegionCodeStr

Score = Annotated[int, Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")]


class RatingCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "case_no": "330302-20261126-000001",
                    "efficiency": 5,
                    "quality": 5,
                    "attitude": 4,
                    "comment": "网上办理很方便，不用跑窗口",
                }
            ]
        },
    )

    case_no: str = Field(pattern=CASE_NUMBER_PATTERN, examples=["330302-20261126-000001"])
    efficiency: Score
    quality: Score
    attitude: Score
    comment: str | None = Field(default=None, max_length=1000)


class RatingRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
                    "case_no": "330302-20261126-000001",
                    "item_code": "public_security.id_card_loss_report",
                    "department_id": "330302-public_security",
                    "region_code": "330302",
                    "efficiency": 5,
                    "quality": 5,
                    "attitude": 4,
                    "comment": "网上办理很方便，不用跑窗口",
                    "bad_review": False,
                    "created_at": "2026-11-26T02:05:44Z",
                }
            ]
        },
    )

    id: uuid.UUID
    case_no: CaseNumberStr
    item_code: str
    department_id: str
    region_code: RegionCodeStr
    efficiency: int
    quality: int
    attitude: int
    comment: str | None
    bad_review: bool
    created_at: dt.datetime
