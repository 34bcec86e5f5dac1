"""What the grant workflow takes and gives."""

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from data_exchange_svc.calls.schemas import FieldName, Purpose, ResourceCode

Note = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class GrantApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: ResourceCode
    fields: list[FieldName] = Field(min_length=1, max_length=32)
    purposes: list[Purpose] = Field(min_length=1, max_length=8)
    legal_basis: Note


class GrantApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Every approved grant expires: at most a year ahead.
    expires_at: dt.datetime


class GrantDecisionNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Note


class GrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    consumer: str
    resource: str = Field(validation_alias="resource_code")
    fields: list[str]
    purposes: list[str]
    legal_basis: str | None
    status: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    applied_by: str | None
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    created_at: dt.datetime
