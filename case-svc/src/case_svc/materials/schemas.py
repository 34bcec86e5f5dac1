"""What the API takes and gives for the materials of a case: uploaded files (the upload itself
is a multipart form: its fields are the endpoint's) and electronic certificates read from the
exchange's certificate registry, told apart by ``kind``."""

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from case_svc.workflow.state_machine import Role

#: The kinds of file a case takes, known by their first bytes.
MaterialType = Literal["application/pdf", "image/jpeg", "image/png"]

MATERIAL_EXAMPLE: dict[str, Any] = {
    "id": "0196f3c2-8a10-7c2e-9b1d-3f4a5b6c7d8e",
    "kind": "upload",
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
    kind: Literal["upload"] = Field(default="upload", description="A file uploaded to the case")
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


#: A certificate number as the registries write them: letters, digits and a few separators.
CertificateNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$"
    ),
]


class CertificateAttach(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"certificate_number": "330319242996"}]}
    )

    certificate_number: CertificateNumber = Field(
        description="The number of one of the applicant's own electronic certificates, as the "
        "certificate shows it"
    )


class CertificateRead(BaseModel):
    """The certificate as the registry held it when it was read."""

    type: str = Field(description="The registry's type code", examples=["driving_licence"])
    name: str = Field(examples=["机动车驾驶证"])
    number: str = Field(examples=["330319242996"])
    issuing_department: str = Field(
        description="The issuing department's id", examples=["330300-traffic_police"]
    )
    valid_from: dt.date
    valid_until: dt.date | None = Field(description="None: valid for the long term")
    status: Literal["valid"] = Field(
        description="Its status when read: only a certificate valid that day is attached"
    )


RECEIPT_EXAMPLE: dict[str, Any] = {
    "seq": 1201,
    "leaf_index": 1200,
    "entry": {
        "seq": 1201,
        "at": "2026-11-26T02:05:00.000000+00:00",
        "call_id": "0196f3c3-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
        "kind": "call",
        "consumer": "case-svc",
        "actor": "case-svc",
        "resource": "electronic_certificate",
        "fields": ["certificate_type", "certificate_number"],
        "purpose": "case_review",
        "case_id": "330300-20261126-000001",
        "subject_hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        "outcome": "allowed",
        "code": None,
    },
    "tree_head": {
        "tree_size": 1201,
        "root_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "timestamp": "2026-11-26T02:05:01Z",
        "signature": "MEUCIQDx7v0n3c2n3E8v0b0p9lWq3yF2kTq1Y5a3Q5c2bK4N9w==",
        "key_id": "ledger-2026-11",
    },
}

CERTIFICATE_EXAMPLE: dict[str, Any] = {
    "id": "0196f3c2-9b21-7d3f-8c2e-4a5b6c7d8e9f",
    "kind": "certificate",
    "name": "机动车驾驶证",
    "certificate": {
        "type": "driving_licence",
        "name": "机动车驾驶证",
        "number": "330319242996",
        "issuing_department": "330300-traffic_police",
        "valid_from": "2022-03-14",
        "valid_until": "2032-03-14",
        "status": "valid",
    },
    "call_id": "0196f3c3-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
    "receipt": RECEIPT_EXAMPLE,
    "uploaded_by": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
    "uploader_role": "applicant",
    "acting_for": None,
    "uploaded_at": "2026-11-26T02:05:00Z",
}


class CertificateMaterialRead(BaseModel):
    """An electronic certificate the case holds, read from the exchange's certificate registry
    instead of a scan; the receipt proves the read (``POST /exchange/v1/ledger/receipts/verify``
    checks it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CERTIFICATE_EXAMPLE]})

    id: uuid.UUID
    kind: Literal["certificate"] = "certificate"
    name: str = Field(description="The certificate's name")
    certificate: CertificateRead
    call_id: str = Field(description="The exchange's id of the read")
    receipt: dict[str, Any] = Field(
        description="The exchange's ledger receipt of the read, as it answered it: the entry, "
        "its position and a signed tree head that includes it"
    )
    uploaded_by: str | None = Field(
        description="The account that attached it (a delegate's, when one acted for the applicant)"
    )
    uploader_role: Role
    acting_for: str | None = Field(
        default=None, description="The applicant a delegate attached it for"
    )
    uploaded_at: dt.datetime


AnyMaterialRead = Annotated[MaterialRead | CertificateMaterialRead, Field(discriminator="kind")]


class MaterialList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [MATERIAL_EXAMPLE, CERTIFICATE_EXAMPLE]}]}
    )

    items: list[AnyMaterialRead] = Field(
        description="Every material of the case, uploads and certificates, in the order they "
        "came (a case holds CASE_MATERIALS_PER_CASE at most, so the list is never paged)"
    )
