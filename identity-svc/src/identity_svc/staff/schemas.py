"""What the API takes and gives for staff accounts."""

import uuid
from typing import Literal

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


class StaffRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0196f3c8-0c1d-7e2f-9a3b-4c5d6e7f8091",
                    "phone_masked": "137****0101",
                    "dept": "330302-public_security",
                    "roles": ["handler"],
                    "created_by": "0196f3b0-0000-7000-8000-000000000001",
                }
            ]
        }
    )

    id: uuid.UUID
    phone_masked: str
    dept: str | None
    roles: list[str]
    created_by: uuid.UUID | None
