"""What the API takes and gives for staff accounts."""

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from identity_svc.accounts.schemas import PHONE_PATTERN

StaffRole = Literal[
    "handler", "supervisor", "catalog_admin", "data_steward", "department_admin", "platform_admin"
]
#: Catalog's department ids: ``<official region code>-<department type>``.
DEPARTMENT_ID_PATTERN = r"^\d{2,12}-[a-z][a-z_]*$"


class StaffCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "13705770101",
                    "password": "Lucheng-Staff-2026",
                    "dept": "330302-public_security",
                    "roles": ["handler"],
                }
            ]
        },
    )

    phone: str = Field(pattern=PHONE_PATTERN, description="the staff member's login")
    password: str = Field(min_length=1, max_length=128, description="the initial password")
    dept: str | None = Field(
        default=None,
        pattern=DEPARTMENT_ID_PATTERN,
        max_length=64,
        examples=["330302-public_security"],
        description="catalog's department id; none only for platform-wide staff",
    )
    roles: list[StaffRole] = Field(min_length=1, max_length=5)


_STAFF_EXAMPLE: dict[str, Any] = {
    "id": "0196f3c8-0c1d-7e2f-9a3b-4c5d6e7f8091",
    "phone_masked": "137****0101",
    "dept": "330302-public_security",
    "staff_no": "330302-0007",
    "roles": ["handler"],
    "created_by": "0196f3b0-0000-7000-8000-000000000001",
    "created_at": "2026-11-26T01:20:00Z",
    "disabled_at": None,
}


class StaffRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_STAFF_EXAMPLE]})

    id: uuid.UUID
    phone_masked: str
    dept: str | None
    staff_no: str | None = Field(
        description="The staff number (工号) identity-svc gave the account: its department's "
        "region code and a sequence; what an applicant sees of the staff who acted on her case"
    )
    roles: list[str]
    created_by: uuid.UUID | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None = Field(
        default=None, description="set once disabled: the account signs in no more"
    )


class StaffList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        _STAFF_EXAMPLE,
                        {
                            **_STAFF_EXAMPLE,
                            "id": "0196f3c9-4d2e-7a10-8b3c-5d6e7f809102",
                            "phone_masked": "137****0102",
                            "roles": ["department_admin"],
                            "disabled_at": "2026-12-01T09:00:00Z",
                        },
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[StaffRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= for the next page; null at the end"
    )


class StaffRoles(BaseModel):
    """The roles the account is to hold, all of them (the ones not named are taken away)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"roles": ["handler", "supervisor"]}]}
    )

    roles: list[StaffRole] = Field(min_length=1, max_length=5)


class AuditEventRead(BaseModel):
    id: uuid.UUID
    occurred_at: dt.datetime
    actor_id: uuid.UUID | None = Field(description="the administrator; null for the seed")
    action: str = Field(
        description="staff.created | staff.roles_changed | staff.disabled",
        examples=["staff.disabled"],
    )
    details: dict[str, Any]


class AuditTrail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "0196f3c8-0c1d-7e2f-9a3b-4c5d6e7f8092",
                            "occurred_at": "2026-11-26T01:20:00Z",
                            "actor_id": "0196f3b0-0000-7000-8000-000000000001",
                            "action": "staff.created",
                            "details": {"dept": "330302-public_security", "roles": ["handler"]},
                        },
                        {
                            "id": "0196f3d0-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                            "occurred_at": "2026-11-28T03:00:00Z",
                            "actor_id": "0196f3b0-0000-7000-8000-000000000001",
                            "action": "staff.roles_changed",
                            "details": {
                                "roles": {"before": ["handler"], "after": ["handler", "supervisor"]}
                            },
                        },
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[AuditEventRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= for the next page; null at the end"
    )
