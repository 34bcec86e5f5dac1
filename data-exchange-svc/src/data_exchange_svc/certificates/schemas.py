"""What an issuer's publication of one certificate takes and gives."""

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from data_exchange_svc.calls.schemas import Subject
from data_exchange_svc.ledger.schemas import RECEIPT_EXAMPLE, ReceiptRead

CertificateNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^\S+$")
]
DepartmentId = Annotated[str, StringConstraints(min_length=3, max_length=128)]


class CertificateIssue(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"id_number": "330302195203140248"},
                    "certificate_type": "senior_citizen_card",
                    "certificate_number": "33030226120001",
                    "valid_from": "2026-12-08",
                    "valid_until": None,
                    "issuing_department": "330302-civil_affairs",
                    "case_id": "330302-20261208-000042",
                }
            ]
        },
    )

    #: The holder: a person (``id_number``) or an enterprise (``credit_code``).
    subject: Subject
    #: One of the library's types (see ``GET /exchange/v1/resources/electronic_certificate``).
    certificate_type: str = Field(max_length=64)
    certificate_number: CertificateNumber
    valid_from: dt.date
    #: None: valid without a time limit.
    valid_until: dt.date | None = None
    #: The department that issued it, ``<region code>-<department type>``: a platform service
    #: names it; a department's own system may leave it out (it is the system's department).
    issuing_department: DepartmentId | None = None
    #: The case the certificate was decided in.
    case_id: str | None = Field(default=None, min_length=1, max_length=64)


_ISSUED_EXAMPLE: dict[str, Any] = {
    "certificate_type": "senior_citizen_card",
    "certificate_name": "老年人优待证",
    "certificate_number": "33030226120001",
    "issuing_department": "330302-civil_affairs",
    "valid_from": "2026-12-08",
    "valid_until": None,
    "certificate_status": "valid",
    "holder_named": True,
    "case_id": "330302-20261208-000042",
    "published_at": "2026-12-08T02:10:00Z",
    "call_id": "019bf3a0-7c1e-7d2a-9a55-3f1c2b9e8d41",
    "receipt": RECEIPT_EXAMPLE,
}


class CertificateIssued(BaseModel):
    """The certificate as the library now holds it (the holder's name only said to be known),
    and the ledger entry of its publication. Publishing it again answers the same."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ISSUED_EXAMPLE]})

    certificate_type: str
    certificate_name: str
    certificate_number: str
    issuing_department: str
    valid_from: dt.date
    valid_until: dt.date | None
    certificate_status: str
    #: Whether the exchange named the holder from its own registers (population registry,
    #: business registration); a caller never names them.
    holder_named: bool
    case_id: str | None
    published_at: dt.datetime
    #: The ledger entry's call id, and its receipt (``/ledger/entries/{seq}/proof`` proves it).
    call_id: uuid.UUID
    receipt: ReceiptRead
