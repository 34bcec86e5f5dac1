"""What the API takes and gives for SMS codes."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from identity_svc.accounts.schemas import PHONE_PATTERN


class SmsCodeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"phone": "13957700000", "purpose": "login"}]},
    )

    phone: str = Field(pattern=PHONE_PATTERN)
    purpose: Literal["login"] = Field(
        default="login", description="one code serves sign-in and registration alike"
    )


class SmsCodeSent(BaseModel):
    """The same answer, and the same text sent, whether or not the phone is registered."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"expires_in": 300, "resend_after": 60}]}
    )

    expires_in: int = Field(description="seconds the code stays valid")
    resend_after: int = Field(description="seconds before another code may be asked for")
