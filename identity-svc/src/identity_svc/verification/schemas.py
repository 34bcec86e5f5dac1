"""What the API takes and gives for real-name and face verification."""

import datetime as dt
import math
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from servicekit.resident_id import ResidentIdStr

TEMPLATE_DIMENSIONS = 128


class RealNameCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "林秀英", "id_number": "330302195203140248"}]},
    )

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    #: Not length-bound to 18 here: a wrong length is answered as ``invalid_id_number``.
    id_number: ResidentIdStr = Field(min_length=1, max_length=64)


class TokenFields(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class RealNameResult(BaseModel):
    """The claim recorded: the registry matched the name and the number. It binds nothing until
    the face match (``next_step``); the answer is the same whoever else claimed or holds the
    number."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "loa": 1,
                    "next_step": "face",
                    "name_masked": "林*英",
                    "id_number_masked": "3303**********0248",
                }
            ]
        }
    )

    loa: int = Field(description="the account's level, unchanged until the face match binds")
    next_step: Literal["face"] = Field(
        description=(
            "what binds the real name to the account: POST /identity/v1/me/face/challenges, "
            "then /identity/v1/me/face/verifications with the phone's capture"
        )
    )
    name_masked: str
    id_number_masked: str


class FaceChallengeRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "challenge_id": "0196f3c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                    "nonce": "k3Q9vX2mP7sL1wZ8",
                    "purpose": "step_up",
                    "expires_at": "2026-11-26T01:35:00Z",
                    "expires_in": 120,
                }
            ]
        }
    )

    challenge_id: uuid.UUID
    nonce: str = Field(description="hand it to the face SDK, which binds its capture to it")
    purpose: Literal["binding", "step_up"] = Field(
        description=(
            "binding: the match binds the account's claimed real name (level 2, and 3 for the "
            "window); step_up: level 3 for the window on the real name already bound"
        )
    )
    expires_at: dt.datetime
    expires_in: int


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class FaceVerificationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "challenge_id": "0196f3c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                    "template": [
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                        0.0884,
                    ],
                }
            ]
        },
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIwMTk2ZjNjMiJ9.c2lnbmF0dXJl",
                    "refresh_token": "rt_9f8Jx2kQ4mV7pL1sT6wZ3bN5cR8yH0dA",
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "loa": 3,
                    "loa_expires_at": "2026-11-26T01:45:00Z",
                }
            ]
        }
    )

    loa: int
    loa_expires_at: dt.datetime
