"""What the API takes and gives for enterprises and the citizens who act for them."""

import datetime as dt
import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from identity_svc.accounts.schemas import PHONE_PATTERN, PartyRead
from servicekit.credit_code import CreditCodeStr
from servicekit.regions import RegionCodeStr

Role = Literal["legal_representative", "agent"]
MemberStatus = Literal["active", "ended", "expired"]


class EnterpriseClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Checked by the service (GB 32100 check character, known region), so that a refusal
    #: names its reason.
    credit_code: CreditCodeStr = Field(
        max_length=32, description="the enterprise's 18-character unified social credit code"
    )


class EnterpriseRead(BaseModel):
    credit_code: CreditCodeStr
    name: str
    registered_region: RegionCodeStr
    registration_status: str


class MembershipRead(BaseModel):
    """The caller's standing with one enterprise."""

    member_id: uuid.UUID
    enterprise: EnterpriseRead
    role: Role
    valid_until: dt.datetime | None = Field(description="null: while the registry says so")


class MembershipList(BaseModel):
    items: list[MembershipRead]


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_phone: str = Field(
        pattern=PHONE_PATTERN, description="the registered phone of the employee who will act"
    )
    valid_until: AwareDatetime


class MemberRead(BaseModel):
    id: uuid.UUID
    citizen: PartyRead
    role: Role
    granted_by: uuid.UUID | None
    valid_until: dt.datetime | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    status: MemberStatus


class MemberList(BaseModel):
    enterprise: EnterpriseRead
    items: list[MemberRead]
