"""What the public statistics give: counts and rates, never anything about a person."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rating_svc.statistics.rollups import Granularity

_FIGURES: dict[str, Any] = {
    "ratings": 120,
    "levels": {"5": 80, "4": 25, "3": 9, "2": 4, "1": 2},
    "bad_reviews": 6,
    "rectifications_opened": 6,
    "rectifications_closed": 5,
    "rectifications_on_time": 4,
    "follow_ups": 4,
    "follow_ups_satisfied": 3,
    "satisfaction_rate": 0.95,
    "bad_review_rate": 0.05,
    "rectification_rate": 0.8333,
    "on_time_rectification_rate": 0.6667,
    "follow_up_satisfaction_rate": 0.75,
}


class Figures(BaseModel):
    """Counts of the reviews given in the periods (an upheld appeal's review is not counted),
    and of the rectifications and follow-up ratings of their bad reviews; rates are none when
    nothing is counted under them."""

    model_config = ConfigDict(json_schema_extra={"examples": [_FIGURES]})

    ratings: int
    levels: dict[str, int] = Field(description="Ratings per level, 5 very satisfied … 1")
    bad_reviews: int
    rectifications_opened: int
    rectifications_closed: int
    rectifications_on_time: int = Field(
        description="Closed rectifications reported by their deadline"
    )
    follow_ups: int
    follow_ups_satisfied: int = Field(description="Follow-up ratings of level 3 or above")
    satisfaction_rate: float | None = Field(description="Levels 5, 4 and 3 over ratings")
    bad_review_rate: float | None = Field(description="Bad reviews over ratings")
    rectification_rate: float | None = Field(description="Closed over opened rectifications")
    on_time_rectification_rate: float | None = Field(
        description="Rectifications reported by their deadline over opened ones"
    )
    follow_up_satisfaction_rate: float | None = Field(
        description="Satisfied follow-up ratings over follow-up ratings"
    )


_PERIODS: dict[str, Any] = {
    "granularity": "month",
    "first_period": "2026-12-01",
    "last_period": "2026-12-01",
}


class Statistics(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dimension": "department",
                    "key": "330302-public_security",
                    **_PERIODS,
                    "figures": _FIGURES,
                }
            ]
        }
    )

    dimension: str = Field(description="department, item or region")
    key: str
    granularity: Granularity
    first_period: dt.date
    last_period: dt.date
    figures: Figures


class Ranked(BaseModel):
    rank: int
    department_id: str
    figures: Figures


class Ranking(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region_code": "330300",
                    **_PERIODS,
                    "min_ratings": 10,
                    "items": [
                        {"rank": 1, "department_id": "330302-public_security", "figures": _FIGURES}
                    ],
                    "unranked": 3,
                }
            ]
        }
    )

    region_code: str
    granularity: Granularity
    first_period: dt.date
    last_period: dt.date
    min_ratings: int = Field(description="The fewest ratings a department needs to be ranked")
    items: list[Ranked] = Field(description="Best satisfaction rate first")
    unranked: int = Field(description="Departments counted with fewer ratings than that")
