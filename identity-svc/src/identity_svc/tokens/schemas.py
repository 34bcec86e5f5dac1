"""What the token endpoint takes (a form, RFC 6749) and gives."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenRequest(BaseModel):
    """The token request's form fields; which ones a grant needs is checked by the grant, so
    that a missing one answers the OAuth ``invalid_request`` rather than a generic 422."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grant_type": "password",
                    "username": "13957700000",
                    "password": "Songtai-1952-lost",
                }
            ]
        }
    )

    grant_type: str | None = Field(
        default=None,
        description="authorization_code | refresh_token | client_credentials | sms_code | "
        "urn:ietf:params:oauth:grant-type:token-exchange | password (where enabled)",
    )
    username: str | None = Field(
        default=None, max_length=64, description="password and sms_code grants: the phone number"
    )
    password: str | None = Field(default=None, max_length=128)
    code: str | None = Field(
        default=None,
        max_length=128,
        description="authorization_code grant: the code; sms_code grant: the SMS code",
    )
    redirect_uri: str | None = Field(
        default=None, max_length=2000, description="authorization_code grant: as authorized"
    )
    code_verifier: str | None = Field(
        default=None, max_length=128, description="authorization_code grant: PKCE (RFC 7636)"
    )
    refresh_token: str | None = Field(default=None, max_length=256)
    scope: str | None = Field(default=None, max_length=1000)
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)
    client_assertion_type: str | None = Field(
        default=None,
        max_length=100,
        description="private_key_jwt (RFC 7523): "
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    )
    client_assertion: str | None = Field(default=None, max_length=8192)
    subject: str | None = Field(
        default=None,
        max_length=64,
        description="token exchange: the delegation id, the principal's account id, or an "
        "enterprise's unified social credit code",
    )
    actor_token: str | None = Field(
        default=None, max_length=4096, description="token exchange: the delegate's access token"
    )
    actor_token_type: str | None = Field(default=None, max_length=100)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "rt_9f8Jx2kQ4mV7pL1sT6wZ3bN5cR8yH0dA"}]}
    )

    refresh_token: str | None = Field(default=None, max_length=256)


class RevokeRequest(BaseModel):
    """RFC 7009 §2.1's form."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"token": "rt_9f8Jx2kQ4mV7pL1sT6wZ3bN5cR8yH0dA", "token_type_hint": "refresh_token"}
            ]
        }
    )

    token: str | None = Field(default=None, max_length=4096)
    token_type_hint: str | None = Field(
        default=None, max_length=32, description="refresh_token | access_token"
    )


class TokenResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIwMTk2ZjNjMiJ9.c2lnbmF0dXJl",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "refresh_token": "rt_9f8Jx2kQ4mV7pL1sT6wZ3bN5cR8yH0dA",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str | None = Field(
        default=None, description="single use: each refresh returns the next one"
    )
    scope: str | None = None
    id_token: str | None = Field(
        default=None, description="authorization_code grant with openid: the ID token"
    )
    issued_token_type: str | None = Field(
        default=None, description="token exchange (RFC 8693): what access_token is"
    )
