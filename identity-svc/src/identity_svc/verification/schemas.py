"""What the API takes and gives for real-name and face verification."""

import datetime as dt
import math
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

TEMPLATE_DIMENSIONS = 128


class RealNameCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    #: Not length-bound to 18 here: a wrong length is answered as ``invalid_id_number``.
    id_number: str = Field(min_length=1, max_length=64, examples=["330302195203140248"])


class TokenFields(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class RealNameResult(TokenFields):
    loa: int
    region: str = Field(description="registered residence, official region code")
    name_masked: str
    id_number_masked: str


class FaceChallengeRead(BaseModel):
    challenge_id: uuid.UUID
    nonce: str = Field(description="hand it to the face SDK, which binds its capture to it")
    purpose: str
    expires_at: dt.datetime
    expires_in: int


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class FaceVerificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: uuid.UUID
    template: list[FiniteFloat] = Field(
        min_length=TEMPLATE_DIMENSIONS,
        max_length=TEMPLATE_DIMENSIONS,
        description="the face template the certified SDK extracted on the phone",
    )

    @field_validator("template")
    @classmethod
    def _not_all_zero(cls, template: list[float]) -> list[float]:
        if math.fsum(value * value for value in template) == 0.0:
            raise ValueError("a face template cannot be all zeros")
        return template


class FaceVerificationResult(TokenFields):
    loa: int
    loa_expires_at: dt.datetime
