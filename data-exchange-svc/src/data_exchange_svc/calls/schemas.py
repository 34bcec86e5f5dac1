"""What the API takes and gives for matches and data calls."""

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from data_exchange_svc.ledger.schemas import RECEIPT_EXAMPLE, ReceiptRead
from servicekit.case_numbers import APPLICATION_NUMBER_PATTERN
from servicekit.credit_code import CreditCodeStr
from servicekit.resident_id import ResidentIdStr

ResourceCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Purpose = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_]*$"),
    Field(description="Why the data is needed, e.g. real_name_verification"),
]
CaseId = Annotated[
    str,
    StringConstraints(pattern=APPLICATION_NUMBER_PATTERN),
    Field(
        description="The case (办件) the call serves, for a citizen-facing flow: a case number, "
        'e.g. "330302-20261126-000001", or a draft application\'s, e.g. '
        '"330300-D20261207-3f9a0c1b5e27" (it shows in the subject\'s access log, so nothing else '
        "is taken)"
    ),
]
ConsumingDepartment = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{2,12}-[a-z][a-z0-9_]*$", max_length=128),
    Field(
        description="A platform service reading on a citizen's behalf (a purpose for the "
        "citizen, e.g. case_prefill) names the department it reads for: the one that will "
        "handle the case. Her consent must name it, and her access log shows it as the "
        'reader, e.g. "330300-housing_provident_fund"'
    ),
]
ClaimValue = Annotated[str, StringConstraints(max_length=256)]


class Subject(BaseModel):
    """Exactly one of ``id_number`` (a person) or ``credit_code`` (an enterprise), of a kind
    the resource is about. Checked by the service (otherwise 422 ``invalid_subject``), so that
    the refusal is recorded in the ledger like any other."""

    model_config = ConfigDict(extra="forbid")

    id_number: ResidentIdStr | None = Field(
        default=None, max_length=32, description="18-character citizen identity number"
    )
    credit_code: CreditCodeStr | None = Field(
        default=None, max_length=32, description="18-character unified social credit code"
    )


class MatchCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resource": "population",
                    "subject": {"id_number": "330302195203140248"},
                    "claims": {"name": "林秀英"},
                    "purpose": "real_name_verification",
                }
            ]
        },
    )

    resource: ResourceCode
    subject: Subject
    claims: dict[FieldName, ClaimValue] = Field(
        min_length=1,
        max_length=16,
        description=(
            'Claimed values, e.g. {"name": "林秀英"}; a predicate field takes its question, e.g.'
            ' {"age_at_least": "60"} or {"certificate_number": "...", "currently_valid": "true"}'
        ),
    )
    purpose: Purpose
    case_id: CaseId | None = None


class MatchRead(BaseModel):
    #: True only if the subject is in the resource and every claim holds there (in one row of
    #: a many-row resource).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "match": True,
                    "call_id": "0196f3c3-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                    "receipt": RECEIPT_EXAMPLE,
                }
            ]
        }
    )

    match: bool
    call_id: uuid.UUID
    #: The ledger entry of this match and a signed tree head that includes it.
    receipt: ReceiptRead


class CallCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resource": "population",
                    "subject": {"id_number": "330302195203140248"},
                    "fields": ["registered_region"],
                    "purpose": "real_name_verification",
                }
            ]
        },
    )

    resource: ResourceCode
    subject: Subject
    fields: list[FieldName] = Field(min_length=1, max_length=32)
    purpose: Purpose
    case_id: CaseId | None = None
    for_department: ConsumingDepartment | None = None


class CallRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "call_id": "0196f3c3-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                    "resource": "population",
                    "provider_department_type": "public_security",
                    "consents": [],
                    "fields": {"registered_region": "330302026003"},
                    "source_timestamp": "2026-11-01T00:00:00Z",
                    "receipt": RECEIPT_EXAMPLE,
                }
            ]
        }
    )

    call_id: uuid.UUID
    resource: str
    #: The kind of department that provides the resource (its owner), e.g. public_security:
    #: a pre-filled form names it as the source of the values.
    provider_department_type: str
    #: The subject's consents the call rests on, by id (as her ``GET /exchange/v1/me/consents``
    #: lists them); empty when the call needed none.
    consents: list[uuid.UUID] = []
    #: Exactly the requested fields, each in its type's JSON form (dates ISO 8601, amounts
    #: strings with two decimals, ``face_template`` 128 floats); for a many-row resource, each
    #: the list of its rows' values in the rows' order.
    fields: dict[str, JsonValue]
    #: When the source record was last loaded or updated.
    source_timestamp: dt.datetime
    #: The ledger entry of this call and a signed tree head that includes it.
    receipt: ReceiptRead
