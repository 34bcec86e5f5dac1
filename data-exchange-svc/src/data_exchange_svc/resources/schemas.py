"""What the API gives about data resources."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

Classification = Literal["unconditional", "conditional", "not_shared"]
Sensitivity = Literal["general", "personal", "sensitive_personal"]


class ResourceFieldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    label: str
    sensitivity: Sensitivity
    #: Whether a match may compare a claimed value with it (verify without sharing).
    matchable: bool


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    owner_department_type: str
    classification: Classification
    hosting: Literal["hosted", "remote"]
    description: str | None
    fields: list[ResourceFieldRead]


class ResourcePage(BaseModel):
    items: list[ResourceRead]
    #: Pass as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None
