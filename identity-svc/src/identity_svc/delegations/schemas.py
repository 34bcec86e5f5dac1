"""What the API takes and gives for delegations."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from identity_svc.accounts.schemas import PHONE_PATTERN, PartyRead

#: Catalog item codes: ``<department type>.<slug>``.
ITEM_CODE_PATTERN = r"^[a-z][a-z_]*\.[a-z0-9][a-z0-9_]*$"
MAX_ITEM_CODES = 50
ItemCode = Annotated[str, Field(pattern=ITEM_CODE_PATTERN, max_length=64)]


class DelegationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delegate_phone: str = Field(
        pattern=PHONE_PATTERN, description="the registered phone of the citizen who will act"
    )
    item_codes: list[ItemCode] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEM_CODES,
        description="catalog item codes the delegate may act on; omit for every service",
    )
    valid_until: AwareDatetime


DelegationStatus = Literal["active", "revoked", "expired"]


class DelegationRead(BaseModel):
    id: uuid.UUID
    principal: PartyRead
    delegate: PartyRead
    item_codes: list[str] | None = Field(description="null: every service")
    valid_until: dt.datetime
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    status: DelegationStatus


class DelegationList(BaseModel):
    given: list[DelegationRead]
    received: list[DelegationRead]
