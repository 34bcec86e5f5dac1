"""What the API takes and gives for accounts."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Mainland mobile numbers: 11 digits, starting 13 to 19.
PHONE_PATTERN = r"^1[3-9]\d{9}$"


class CitizenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"phone": "13957700000", "password": "Songtai-1952-lost", "code": "204816"}
            ]
        },
    )

    phone: str = Field(pattern=PHONE_PATTERN, examples=["13800000000"])
    password: str = Field(
        min_length=1,
        max_length=128,
        description="at least 8 characters; not containing the phone number; not a common one",
    )
    code: str = Field(
        min_length=1,
        max_length=16,
        description="the code texted to the phone (POST /identity/v1/sms-codes)",
    )


class CitizenRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
                    "phone_masked": "139****0000",
                    "loa": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    phone_masked: str = Field(examples=["138****0000"])
    loa: int


class RealNameRead(BaseModel):
    name_masked: str = Field(examples=["林*英"])
    id_number_masked: str = Field(examples=["3303**********0248"])
    region: str | None = Field(description="registered residence, official region code")
    birth_date: dt.date | None
    sex: Literal["male", "female"] | None


class MeRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
                    "typ": "citizen",
                    "phone_masked": "139****0000",
                    "loa": 2,
                    "real_name": {
                        "name_masked": "林*英",
                        "id_number_masked": "3303**********0248",
                        "region": "330302026003",
                        "birth_date": "1952-03-14",
                        "sex": "female",
                    },
                    "face_verified_until": None,
                }
            ]
        }
    )

    id: uuid.UUID
    typ: str
    phone_masked: str
    loa: int = Field(description="the level the account holds now (3 only inside the face window)")
    real_name: RealNameRead | None
    face_verified_until: dt.datetime | None


class PartyRead(BaseModel):
    """Another party to something the caller sees (a delegation, an enterprise), masked."""

    id: uuid.UUID
    phone_masked: str
    name_masked: str | None


class PersonIdentityRead(BaseModel):
    """A citizen's identity as her real-name verification bound it, in full."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"subject": "person", "name": "林秀英", "id_number": "330302195203140248"}]
        }
    )

    subject: Literal["person"]
    name: str = Field(description="As the population registry matched it")
    id_number: str = Field(description="The resident identity number (GB 11643), 18 characters")


class EnterpriseIdentityRead(BaseModel):
    """An enterprise's identity as the market-regulation registry gave it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "enterprise",
                    "credit_code": "91330302MA1P3D8712",
                    "enterprise_name": "温州市鹿城区浩宇网络科技有限公司（合成数据）",
                }
            ]
        }
    )

    subject: Literal["enterprise"]
    credit_code: str = Field(description="The unified social credit code (GB 32100)")
    enterprise_name: str = Field(description="The registered name")


#: The token's subject's verified identity: a person's or an enterprise's, told by ``subject``.
#: Its members are named as the catalog's forms mark the applicant's fields (``x-applicant``).
VerifiedIdentityRead = Annotated[
    PersonIdentityRead | EnterpriseIdentityRead, Field(discriminator="subject")
]
