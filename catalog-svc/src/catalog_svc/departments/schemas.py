"""What the API gives for departments."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.regions import RegionCodeStr

Tier = Literal["province", "city", "county", "township"]


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="<official region code>-<type>, e.g. 330302-public_security")
    name: str
    type: str
    tier: Tier
    region_code: RegionCodeStr
