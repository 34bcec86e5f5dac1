"""What the API takes and gives for OAuth clients."""

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from identity_svc.oauth_clients.metadata import (
    MAX_REDIRECT_URI_LENGTH,
    MAX_REDIRECT_URIS,
    AuthMethod,
    ClientType,
)

Scope = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]
RedirectUri = Annotated[str, Field(min_length=1, max_length=MAX_REDIRECT_URI_LENGTH)]
RedirectUris = Annotated[
    list[RedirectUri],
    Field(
        default_factory=list,
        max_length=MAX_REDIRECT_URIS,
        description=(
            "Matched exactly. Absolute https; http only to 127.0.0.1 or localhost (any port); "
            "or a private-use scheme in reverse-domain form (cn.gov.onevisit.app:/callback, "
            "RFC 8252). No fragment."
        ),
    ),
]
Jwks = Annotated[
    dict[str, Any] | None,
    Field(
        default=None,
        description=(
            "The client's public keys, a JWK Set, for private_key_jwt (and only then): EC P-256, "
            "RSA (2048 bits or more) or OKP Ed25519 signing keys, no private member; each with "
            "its own kid when there are several"
        ),
    ),
]

#: The portal of the examples: its public key (a synthetic one).
_EXAMPLE_JWKS: dict[str, JsonValue] = {
    "keys": [
        {
            "kty": "EC",
            "crv": "P-256",
            "kid": "portal-2026",
            "x": "SlpJ5iqfumiVkfgGTP1cmMi8yrp2kL6UPveRZzzubI4",
            "y": "DN_h70pUkumvHu7HgRZx1AJcJMtM45ZbfFm3ncBgNpY",
        }
    ]
}


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
                },
                {
                    "client_id": "ds-330302-public-security-portal",
                    "name": "鹿城区公安分局网上办事大厅（合成数据）",
                    "typ": "department_system",
                    "dept": "330302-public_security",
                    "auth_method": "private_key_jwt",
                    "jwks": _EXAMPLE_JWKS,
                    "redirect_uris": ["https://portal.lucheng.example.gov.cn/callback"],
                    "post_logout_redirect_uris": ["https://portal.lucheng.example.gov.cn/"],
                },
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
    auth_method: AuthMethod | None = Field(
        default=None,
        description=(
            "How it authenticates at the token endpoint; omit for none (an app, which is "
            "public) or client_secret_basic (the others: a secret is made and shown once)"
        ),
    )
    jwks: Jwks
    redirect_uris: RedirectUris
    post_logout_redirect_uris: RedirectUris
    first_party: bool = Field(
        default=False,
        description="The platform's own (no consent asked): a platform administrator's choice",
    )


class ClientSignIn(BaseModel):
    """What ``PUT .../sign-in`` replaces: every field, as given."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "jwks": _EXAMPLE_JWKS,
                    "redirect_uris": ["https://portal.lucheng.example.gov.cn/callback"],
                    "post_logout_redirect_uris": ["https://portal.lucheng.example.gov.cn/"],
                }
            ]
        },
    )

    jwks: Jwks
    redirect_uris: RedirectUris
    post_logout_redirect_uris: RedirectUris


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
                    "auth_method": "client_secret_basic",
                    "jwks": None,
                    "redirect_uris": [],
                    "post_logout_redirect_uris": [],
                    "first_party": False,
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
    auth_method: str
    jwks: dict[str, Any] | None
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    first_party: bool
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
                    "auth_method": "client_secret_basic",
                    "jwks": None,
                    "redirect_uris": [],
                    "post_logout_redirect_uris": [],
                    "first_party": False,
                    "created_at": "2026-11-26T00:10:00Z",
                    "disabled_at": None,
                    "previous_secret_expires_at": None,
                    "client_secret": "cs_8Zq2Xv7Lm4Pk9Rt1Wy6Bn3Hd5Jf0Gs",
                }
            ]
        }
    )

    client_secret: str | None = Field(
        description="Shown this once; null for a client that authenticates without a secret"
    )


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
                            "auth_method": "client_secret_basic",
                            "jwks": None,
                            "redirect_uris": [],
                            "post_logout_redirect_uris": [],
                            "first_party": False,
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
                            "auth_method": "client_secret_basic",
                            "jwks": None,
                            "redirect_uris": [],
                            "post_logout_redirect_uris": [],
                            "first_party": False,
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
