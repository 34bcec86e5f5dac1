"""What the API takes and gives for OAuth clients."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from identity_svc.oauth_clients.service import ClientType

Scope = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]


class ClientCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "温州市民政局婚姻登记系统（合成数据）",
                    "typ": "department_system",
                    "dept": "330300-civil_affairs",
                    "scopes": ["exchange:calls"],
                }
            ]
        },
    )

    client_id: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{2,63}$",
        description="omit to have one made (ds-… or svc-…)",
    )
    name: str = Field(min_length=1, max_length=200)
    typ: ClientType
    dept: str | None = Field(
        default=None, max_length=64, description="catalog department id; required for systems"
    )
    scopes: list[Scope] = Field(default_factory=list, max_length=50)


class ClientRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "ds-330302-public-security",
                    "name": "温州市公安局鹿城区分局户政系统（合成数据）",
                    "typ": "department_system",
                    "dept": "330302-public_security",
                    "scopes": ["exchange:calls", "exchange:matches"],
                    "created_at": "2026-11-19T08:30:00Z",
                    "disabled_at": None,
                    "previous_secret_expires_at": None,
                }
            ]
        }
    )

    client_id: str
    name: str
    typ: str
    dept: str | None
    scopes: list[str]
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    #: Until when the secret replaced by the last rotation still works.
    previous_secret_expires_at: dt.datetime | None


class ClientWithSecret(ClientRead):
    #: Shown this once; only its hash is kept.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "ds-330300-civil-affairs",
                    "name": "温州市民政局婚姻登记系统（合成数据）",
                    "typ": "department_system",
                    "dept": "330300-civil_affairs",
                    "scopes": ["exchange:calls"],
                    "created_at": "2026-11-26T00:10:00Z",
                    "disabled_at": None,
                    "previous_secret_expires_at": None,
                    "client_secret": "cs_8Zq2Xv7Lm4Pk9Rt1Wy6Bn3Hd5Jf0Gs",
                }
            ]
        }
    )

    client_secret: str


class ClientList(BaseModel):
    """Secrets are never listed: only their holder saw them, once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "client_id": "ds-330300-civil-affairs",
                            "name": "温州市民政局婚姻登记系统（合成数据）",
                            "typ": "department_system",
                            "dept": "330300-civil_affairs",
                            "scopes": ["exchange:calls"],
                            "created_at": "2026-11-26T00:10:00Z",
                            "disabled_at": None,
                            "previous_secret_expires_at": None,
                        },
                        {
                            "client_id": "ds-330302-public-security",
                            "name": "温州市公安局鹿城区分局户政系统（合成数据）",
                            "typ": "department_system",
                            "dept": "330302-public_security",
                            "scopes": ["exchange:calls", "exchange:matches"],
                            "created_at": "2026-11-19T08:30:00Z",
                            "disabled_at": None,
                            "previous_secret_expires_at": "2026-11-27T09:00:00Z",
                        },
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[ClientRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= for the next page; null at the end"
    )
