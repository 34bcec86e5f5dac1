"""What the token endpoint takes (a form, RFC 6749) and gives."""

from typing import Literal

from pydantic import BaseModel, Field


class TokenRequest(BaseModel):
    """The token request's form fields; which ones a grant needs is checked by the grant, so
    that a missing one answers the OAuth ``invalid_request`` rather than a generic 422."""

    grant_type: str | None = Field(
        default=None, description="password | refresh_token | client_credentials"
    )
    username: str | None = Field(
        default=None, max_length=64, description="password grant: the phone number"
    )
    password: str | None = Field(default=None, max_length=128)
    refresh_token: str | None = Field(default=None, max_length=256)
    scope: str | None = Field(default=None, max_length=1000)
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str | None = Field(
        default=None, description="single use: each refresh returns the next one"
    )
    scope: str | None = None
