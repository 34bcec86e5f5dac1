"""What the API takes and gives for enterprises and the citizens who act for them."""

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from identity_svc.accounts.schemas import PHONE_PATTERN, PartyRead
from servicekit.credit_code import CreditCodeStr
from servicekit.regions import RegionCodeStr

Role = Literal["legal_representative", "agent"]
#: awaiting_confirmation: an agent whose authoriser no longer represents the enterprise, until
#: the new representative confirms them.
MemberStatus = Literal["active", "awaiting_confirmation", "ended", "expired"]


class EnterpriseClaim(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"credit_code": "91330302MA2L7Y1K22"}]}
    )

    #: Checked by the service (GB 32100 check character, known region), so that a refusal
    #: names its reason.
    credit_code: CreditCodeStr = Field(
        max_length=32, description="the enterprise's 18-character unified social credit code"
    )


#: The synthetic Lucheng company of the examples, as the business registry describes it.
_ENTERPRISE_EXAMPLE: dict[str, Any] = {
    "credit_code": "91330302MA2L7Y1K22",
    "name": "温州市鹿城区松台文具有限公司（合成数据）",
    "registered_region": "330302001002",
    "registration_status": "active",
}


class EnterpriseRead(BaseModel):
    credit_code: CreditCodeStr
    name: str
    registered_region: RegionCodeStr
    registration_status: str


#: 王建国's standing: the registry names him the company's legal representative.
_MEMBERSHIP_EXAMPLE: dict[str, Any] = {
    "member_id": "0196f3c9-1d2e-7f3a-8b4c-5d6e7f809102",
    "enterprise": _ENTERPRISE_EXAMPLE,
    "role": "legal_representative",
    "valid_until": None,
}


class MembershipRead(BaseModel):
    """The caller's standing with one enterprise."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MEMBERSHIP_EXAMPLE]})

    member_id: uuid.UUID
    enterprise: EnterpriseRead
    role: Role
    valid_until: dt.datetime | None = Field(description="null: while the registry says so")


class MembershipList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_MEMBERSHIP_EXAMPLE]}]})

    items: list[MembershipRead]


class AgentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"agent_phone": "13957700000", "valid_until": "2027-06-30T16:00:00+00:00"}]
        },
    )

    agent_phone: str = Field(
        pattern=PHONE_PATTERN, description="the registered phone of the employee who will act"
    )
    valid_until: AwareDatetime


#: 林秀英, authorised by 王建国 to act for the company until mid-2027.
_AGENT_EXAMPLE: dict[str, Any] = {
    "id": "0196f3ca-2e3f-7a4b-9c5d-6e7f80910213",
    "citizen": {
        "id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
        "phone_masked": "139****0000",
        "name_masked": "林*英",
    },
    "role": "agent",
    "granted_by": "0196f3c6-8a9b-7c0d-9e1f-2a3b4c5d6e7f",
    "valid_until": "2027-06-30T16:00:00Z",
    "created_at": "2026-11-26T03:00:00Z",
    "revoked_at": None,
    "status": "active",
}


class MemberRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_AGENT_EXAMPLE]})

    id: uuid.UUID
    citizen: PartyRead
    role: Role
    granted_by: uuid.UUID | None
    valid_until: dt.datetime | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    status: MemberStatus


class MemberList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "enterprise": _ENTERPRISE_EXAMPLE,
                    "items": [
                        {
                            "id": "0196f3c9-1d2e-7f3a-8b4c-5d6e7f809102",
                            "citizen": {
                                "id": "0196f3c6-8a9b-7c0d-9e1f-2a3b4c5d6e7f",
                                "phone_masked": "137****2211",
                                "name_masked": "王*国",
                            },
                            "role": "legal_representative",
                            "granted_by": None,
                            "valid_until": None,
                            "created_at": "2026-11-26T02:50:00Z",
                            "revoked_at": None,
                            "status": "active",
                        },
                        _AGENT_EXAMPLE,
                    ],
                }
            ]
        }
    )

    enterprise: EnterpriseRead
    items: list[MemberRead]
