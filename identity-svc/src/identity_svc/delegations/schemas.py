"""What the API takes and gives for delegations."""

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from identity_svc.accounts.schemas import PHONE_PATTERN, PartyRead

#: Catalog item codes: ``<department type>.<slug>``.
ITEM_CODE_PATTERN = r"^[a-z][a-z_]*\.[a-z0-9][a-z0-9_]*$"
MAX_ITEM_CODES = 50
ItemCode = Annotated[str, Field(pattern=ITEM_CODE_PATTERN, max_length=64)]


class DelegationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "delegate_phone": "13705772211",
                    "item_codes": ["public_security.id_card_loss_report"],
                    "valid_until": "2026-12-31T16:00:00+00:00",
                }
            ]
        },
    )

    delegate_phone: str = Field(
        pattern=PHONE_PATTERN,
        description="the phone of the citizen who will act, registered now or later: the "
        "answer is the same either way",
    )
    item_codes: list[ItemCode] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEM_CODES,
        description="catalog item codes the delegate may act on; omit for every service",
    )
    valid_until: AwareDatetime


DelegationStatus = Literal["active", "revoked", "expired"]

#: 林秀英 lets 王建国 report her lost identity card for her (as the service answers: masked).
_DELEGATION_EXAMPLE: dict[str, Any] = {
    "id": "0196f3c7-9b0c-7d1e-8f2a-3b4c5d6e7f80",
    "principal": {
        "id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
        "phone_masked": "139****0000",
        "name_masked": "林*英",
    },
    "delegate": {"phone_masked": "137****2211"},
    "item_codes": ["public_security.id_card_loss_report"],
    "valid_until": "2026-12-31T16:00:00Z",
    "created_at": "2026-11-26T01:20:00Z",
    "revoked_at": None,
    "status": "active",
}


class DelegateRead(BaseModel):
    """The delegate as the delegation names them: the phone it was given to, masked. Who holds
    an account at it is not told (nor whether anyone does)."""

    phone_masked: str = Field(examples=["137****2211"])


class DelegationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DELEGATION_EXAMPLE]})

    id: uuid.UUID
    principal: PartyRead
    delegate: DelegateRead
    item_codes: list[str] | None = Field(description="null: every service")
    valid_until: dt.datetime
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    status: DelegationStatus


class DelegationList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"given": [_DELEGATION_EXAMPLE], "received": []}]}
    )

    given: list[DelegationRead]
    received: list[DelegationRead]
