"""What the citizen's endpoints take and give."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from data_exchange_svc.calls.schemas import FieldName, Purpose, ResourceCode
from data_exchange_svc.ledger.schemas import ReceiptRead
from servicekit.case_numbers import CASE_NUMBER_PATTERN
from servicekit.resident_id import ResidentIdStr

DepartmentId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{2,12}-[a-z][a-z0-9_]*$", max_length=128),
    Field(description='The consuming department, e.g. "330302-civil_affairs"'),
]
CaseNumber = Annotated[
    str,
    StringConstraints(pattern=CASE_NUMBER_PATTERN),
    Field(description='The case the consent is for, e.g. "330302-20261126-000001"'),
]


class SubjectLink(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"id_number": "330302195203140248"}]}
    )

    id_number: ResidentIdStr = Field(
        max_length=32, description="the 18-character identity number identity-svc verified"
    )


class SubjectLinkRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"linked": True, "linked_at": "2026-11-26T01:31:09Z"}]}
    )

    linked: Literal[True] = True
    linked_at: dt.datetime


class ConsentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "consumer": "330302-public_security",
                    "resource": "population",
                    "fields": ["name", "registered_region"],
                    "purpose": "case_prefill",
                    "case_id": "330302-20261126-000001",
                    "expires_at": "2026-12-26T00:00:00Z",
                }
            ]
        },
    )

    consumer: DepartmentId
    resource: ResourceCode
    fields: list[FieldName] = Field(min_length=1, max_length=32)
    purpose: Purpose
    case_id: CaseNumber
    #: At most a year ahead.
    expires_at: dt.datetime


class ConsentRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0196f3c5-6f7a-7b8c-9d0e-1f2a3b4c5d6e",
                    "consumer": "330302-public_security",
                    "resource": "population",
                    "fields": ["name", "registered_region"],
                    "purpose": "case_prefill",
                    "case_id": "330302-20261126-000001",
                    "expires_at": "2026-12-26T00:00:00Z",
                    "revoked_at": None,
                    "created_at": "2026-11-26T01:38:00Z",
                    "status": "live",
                }
            ]
        }
    )

    id: uuid.UUID
    consumer: str
    resource: str
    fields: list[str]
    purpose: str
    case_id: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    created_at: dt.datetime
    #: live | expired | revoked, as of the answer.
    status: Literal["live", "expired", "revoked"]


class ConsentList(BaseModel):
    items: list[ConsentRead]


class AccessLogItem(BaseModel):
    seq: int
    at: dt.datetime
    call_id: uuid.UUID
    #: match | call
    kind: str
    #: Who: the consuming department (or platform service).
    consumer: str
    #: What.
    resource: str
    fields: list[str]
    #: Why.
    purpose: str
    case_id: str | None
    #: allowed | refused, and the refusal's code.
    outcome: str
    code: str | None
    receipt: ReceiptRead


class AccessLogPage(BaseModel):
    items: list[AccessLogItem]
    #: Pass as ``cursor`` for older entries; None on the last page.
    next_cursor: str | None
