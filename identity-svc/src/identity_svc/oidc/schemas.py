"""What the OpenID Connect provider's API gives."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class ProviderMetadata(BaseModel):
    """OpenID Connect Discovery 1.0 §3, RFC 8414 §2."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "issuer": "https://api.onevisit.example/identity/v1",
                    "authorization_endpoint": "https://api.onevisit.example/identity/v1/authorize",
                    "token_endpoint": "https://api.onevisit.example/identity/v1/token",
                    "userinfo_endpoint": "https://api.onevisit.example/identity/v1/userinfo",
                    "jwks_uri": "https://api.onevisit.example/identity/v1/.well-known/jwks.json",
                    "end_session_endpoint": "https://api.onevisit.example/identity/v1/end-session",
                    "revocation_endpoint": "https://api.onevisit.example/identity/v1/revoke",
                    "scopes_supported": ["openid", "profile", "phone", "id_number"],
                    "response_types_supported": ["code"],
                    "response_modes_supported": ["query"],
                    "grant_types_supported": [
                        "authorization_code",
                        "refresh_token",
                        "client_credentials",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                    ],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["ES256", "EdDSA"],
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_basic",
                        "private_key_jwt",
                        "none",
                        "client_secret_post",
                    ],
                    "token_endpoint_auth_signing_alg_values_supported": [
                        "ES256",
                        "RS256",
                        "PS256",
                        "EdDSA",
                    ],
                    "revocation_endpoint_auth_methods_supported": ["none"],
                    "code_challenge_methods_supported": ["S256"],
                    "acr_values_supported": [
                        "urn:onevisit:loa:1",
                        "urn:onevisit:loa:2",
                        "urn:onevisit:loa:3",
                    ],
                    "claims_supported": [
                        "iss",
                        "aud",
                        "exp",
                        "iat",
                        "auth_time",
                        "nonce",
                        "acr",
                        "amr",
                        "sub",
                        "name_masked",
                        "real_name_verified",
                        "loa",
                        "phone_number_masked",
                        "phone_number_verified",
                        "name",
                        "id_number",
                        "id_number_masked",
                    ],
                    "prompt_values_supported": ["none", "login", "consent"],
                    "claims_parameter_supported": False,
                    "request_parameter_supported": False,
                    "request_uri_parameter_supported": False,
                    "authorization_response_iss_parameter_supported": True,
                    "ui_locales_supported": ["zh-CN"],
                }
            ]
        }
    )

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str
    revocation_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str]
    acr_values_supported: list[str]
    claims_supported: list[str]
    prompt_values_supported: list[str]
    claims_parameter_supported: bool
    request_parameter_supported: bool
    request_uri_parameter_supported: bool
    authorization_response_iss_parameter_supported: bool
    ui_locales_supported: list[str]


class UserInfo(BaseModel):
    """The claims the token's scopes give (OIDC Core §5.3.2); the others are absent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sub": "0196f3c2-7a41-7c3e-9d55-2b8f0e1a4c6d",
                    "real_name_verified": True,
                    "loa": 3,
                    "name_masked": "林*英",
                    "phone_number_masked": "139****2345",
                    "phone_number_verified": True,
                }
            ]
        }
    )

    sub: str
    real_name_verified: bool | None = Field(default=None, description="profile")
    loa: int | None = Field(default=None, description="profile: the token's level of assurance")
    name_masked: str | None = Field(default=None, description="profile")
    phone_number_masked: str | None = Field(default=None, description="phone")
    phone_number_verified: bool | None = Field(default=None, description="phone")
    name: str | None = Field(default=None, description="id_number, at level 3: in full")
    id_number: str | None = Field(default=None, description="id_number, at level 3: in full")
    id_number_masked: str | None = Field(default=None, description="id_number")


class ConsentRead(BaseModel):
    client_id: str
    client_name: str
    scopes: list[str]
    #: What each scope gives, as the consent page said it.
    descriptions: list[str]
    granted_at: dt.datetime


class ConsentList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "client_id": "ds-330302-public-security-portal",
                            "client_name": "鹿城区公安分局网上办事大厅（合成数据）",
                            "scopes": ["openid", "profile"],
                            "descriptions": [
                                "确认是您本人登录（平台为该网站生成的账号标识）",
                                "您的实名认证状态和脱敏姓名（如 林*英）",
                            ],
                            "granted_at": "2026-12-07T08:30:00Z",
                        }
                    ]
                }
            ]
        }
    )

    items: list[ConsentRead]
