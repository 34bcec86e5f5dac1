"""What the API gives about sessions."""

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field


class SessionRead(BaseModel):
    id: uuid.UUID
    created_at: dt.datetime
    last_used_at: dt.datetime = Field(description="the latest sign-in or refresh")
    expires_at: dt.datetime = Field(description="when it ends unless refreshed")
    user_agent: str | None
    client_address: str | None
    current: bool = Field(description="the session of the token making this request")
    client_id: str | None = Field(
        default=None,
        description="the portal or app she signed in to through the platform (OpenID "
        "Connect), if any: ending the session signs her out there",
    )


class SessionList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sessions": [
                        {
                            "id": "0196f3c2-9a0b-7c1d-8e2f-3a4b5c6d7e8f",
                            "created_at": "2026-11-26T01:31:07Z",
                            "last_used_at": "2026-11-26T01:38:00Z",
                            "expires_at": "2026-12-26T01:38:00Z",
                            "user_agent": "OneVisit/3.2 (iPhone; iOS 18.1)",
                            "client_address": "203.0.113.24",
                            "current": True,
                        },
                        {
                            "id": "0196e9a1-4b5c-7d6e-9f70-8192a3b4c5d6",
                            "created_at": "2026-11-20T02:00:00Z",
                            "last_used_at": "2026-11-24T11:15:42Z",
                            "expires_at": "2026-12-24T11:15:42Z",
                            "user_agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0",
                            "client_address": "198.51.100.7",
                            "current": False,
                            "client_id": "ds-330302-public-security-portal",
                        },
                    ]
                }
            ]
        }
    )

    sessions: list[SessionRead]
