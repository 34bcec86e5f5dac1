"""What the API takes and gives for OAuth clients."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from identity_svc.oauth_clients.service import ClientType

Scope = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    client_secret: str


class ClientList(BaseModel):
    items: list[ClientRead]
