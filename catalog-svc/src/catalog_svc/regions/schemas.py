"""What the API gives for regions."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RegionLevelName = Literal["province", "city", "county", "township", "village"]
RegionStatus = Literal["current", "retired"]


class RegionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(description="Official form: 6 digits down to the county, then 9 or 12")
    name: str
    level: RegionLevelName


class RegionRead(RegionSummary):
    prefix: str = Field(description="The significant prefix: 3303 for Wenzhou")
    parent_code: str | None
    ancestors: list[RegionSummary] = Field(description="From the province down to the parent")
    status: RegionStatus
    successor_code: str | None = Field(
        description="For a retired region: the current region that took it over, if known"
    )


class RegionChild(RegionSummary):
    status: RegionStatus


class RegionChildrenPage(BaseModel):
    items: list[RegionChild]
    next_cursor: str | None
