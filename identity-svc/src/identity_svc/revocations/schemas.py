"""What the revocation list's endpoint gives."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RevocationRead(BaseModel):
    kind: Literal["session", "client"]
    id: str = Field(description="the session id (the tokens' sid) or the client id (their sub)")
    issued_up_to: int = Field(
        description="tokens issued (iat) at or before this time, in seconds since the epoch"
    )
    generations_below: int | None = Field(
        default=None,
        description="client only: just the tokens granted with an older secret (their sgen); "
        "null: every token of the client",
    )
    expires_at: dt.datetime = Field(description="when every token it covers has expired")


class RevocationList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "kind": "session",
                            "id": "0196f3c2-9a0b-7c1d-8e2f-3a4b5c6d7e8f",
                            "issued_up_to": 1796545440,
                            "generations_below": None,
                            "expires_at": "2026-12-07T02:14:05Z",
                        },
                        {
                            "kind": "client",
                            "id": "ds-330302-public-security",
                            "issued_up_to": 1796545500,
                            "generations_below": 3,
                            "expires_at": "2026-12-07T02:15:05Z",
                        },
                    ],
                    "next_cursor": "eyJzaW5jZSI6IjIwMjYtMTItMDdUMDI6MDQ6MzAifQ.Vh2oQb1y3kq0r9l7",
                }
            ]
        }
    )

    items: list[RevocationRead]
    next_cursor: str = Field(description="Ask with ?cursor= next for what is recorded after")
