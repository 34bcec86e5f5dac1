"""What the API gives for departments."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.regions import RegionCodeStr

Tier = Literal["province", "city", "county", "township"]


class DepartmentRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "330302-public_security",
                    "name": "温州市公安局鹿城区分局",
                    "type": "public_security",
                    "tier": "county",
                    "region_code": "330302",
                }
            ]
        },
    )

    id: str = Field(description="<official region code>-<type>, e.g. 330302-public_security")
    name: str
    type: str
    tier: Tier
    region_code: RegionCodeStr
