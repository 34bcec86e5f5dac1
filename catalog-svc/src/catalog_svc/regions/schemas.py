"""What the API gives for regions."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.regions import RegionCodeStr

RegionLevelName = Literal["province", "city", "county", "township", "village"]
RegionStatus = Literal["current", "retired"]


class RegionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: RegionCodeStr = Field(
        description="Official form: 6 digits down to the county, then 9 or 12"
    )
    name: str
    level: RegionLevelName


class RegionRead(RegionSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "330302",
                    "name": "鹿城区",
                    "level": "county",
                    "prefix": "330302",
                    "parent_code": "330300",
                    "ancestors": [
                        {"code": "330000", "name": "浙江省", "level": "province"},
                        {"code": "330300", "name": "温州市", "level": "city"},
                    ],
                    "status": "current",
                    "successor_code": None,
                }
            ]
        }
    )

    prefix: str = Field(description="The significant prefix: 3303 for Wenzhou")
    parent_code: RegionCodeStr | None
    ancestors: list[RegionSummary] = Field(description="From the province down to the parent")
    status: RegionStatus
    successor_code: RegionCodeStr | None = Field(
        description="For a retired region: the current region that took it over, if known"
    )


class RegionChild(RegionSummary):
    status: RegionStatus


class RegionChildrenPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "code": "330302026",
                            "name": "松台街道",
                            "level": "township",
                            "status": "current",
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[RegionChild]
    next_cursor: str | None
