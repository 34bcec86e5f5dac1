"""What the API gives for the materials of a case (the upload itself is a multipart form: its
fields are the endpoint's)."""

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from case_svc.workflow.state_machine import Role

#: The kinds of file a case takes, known by their first bytes.
MaterialType = Literal["application/pdf", "image/jpeg", "image/png"]

MATERIAL_EXAMPLE: dict[str, Any] = {
    "id": "0196f3c2-8a10-7c2e-9b1d-3f4a5b6c7d8e",
    "name": "居民身份证正反面复印件",
    "content_type": "image/jpeg",
    "size": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "uploaded_by": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
    "uploader_role": "applicant",
    "acting_for": None,
    "uploaded_at": "2026-11-26T02:05:00Z",
}


class MaterialRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MATERIAL_EXAMPLE]})

    id: uuid.UUID
    name: str = Field(description="The material's name as the item lists it, or a free label")
    content_type: MaterialType = Field(description="What its first bytes say it is")
    size: int = Field(description="Bytes")
    sha256: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 of the content, hex; the download's ETag is this in quotes",
    )
    uploaded_by: str | None = Field(
        description="The account that uploaded it (a delegate's, when one acted for the "
        "applicant); to the applicant, staff are shown by their part only (null)"
    )
    uploader_role: Role
    acting_for: str | None = Field(
        default=None, description="The applicant a delegate uploaded it for"
    )
    uploaded_at: dt.datetime


class MaterialList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [MATERIAL_EXAMPLE]}]})

    items: list[MaterialRead] = Field(
        description="Every material of the case, in the order they came (a case holds "
        "CASE_MATERIALS_PER_CASE at most, so the list is never paged)"
    )
