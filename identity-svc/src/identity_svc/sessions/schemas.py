"""What the API gives about sessions."""

import datetime as dt
import uuid

from pydantic import BaseModel, Field


class SessionRead(BaseModel):
    id: uuid.UUID
    created_at: dt.datetime
    last_used_at: dt.datetime = Field(description="the latest sign-in or refresh")
    expires_at: dt.datetime = Field(description="when it ends unless refreshed")
    user_agent: str | None
    client_address: str | None
    current: bool = Field(description="the session of the token making this request")


class SessionList(BaseModel):
    sessions: list[SessionRead]
