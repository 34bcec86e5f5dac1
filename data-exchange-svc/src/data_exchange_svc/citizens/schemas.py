"""What the citizen's endpoints take and give."""

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from data_exchange_svc.calls.schemas import FieldName, Purpose, ResourceCode
from data_exchange_svc.ledger.schemas import ReceiptRead
from servicekit.case_numbers import APPLICATION_NUMBER_PATTERN
from servicekit.resident_id import ResidentIdStr

DepartmentId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{2,12}-[a-z][a-z0-9_]*$", max_length=128),
    Field(description='The consuming department, e.g. "330302-civil_affairs"'),
]
CaseNumber = Annotated[
    str,
    StringConstraints(pattern=APPLICATION_NUMBER_PATTERN),
    Field(
        description='The case the consent is for, e.g. "330302-20261126-000001", or the draft '
        'application that will become it, e.g. "330300-D20261207-3f9a0c1b5e27"'
    ),
]


class SubjectLink(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"id_number": "330302195203140248"}]}
    )

    id_number: ResidentIdStr = Field(
        max_length=32, description="the 18-character identity number identity-svc verified"
    )


class SubjectLinkRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"linked": True, "linked_at": "2026-11-26T01:31:09Z"}]}
    )

    linked: Literal[True] = True
    linked_at: dt.datetime


class ConsentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "consumer": "330302-public_security",
                    "resource": "population",
                    "fields": ["name", "registered_region"],
                    "purpose": "case_prefill",
                    "case_id": "330302-20261126-000001",
                    "expires_at": "2026-12-26T00:00:00Z",
                }
            ]
        },
    )

    consumer: DepartmentId
    resource: ResourceCode
    fields: list[FieldName] = Field(min_length=1, max_length=32)
    purpose: Purpose
    case_id: CaseNumber
    #: At most a year ahead.
    expires_at: dt.datetime


#: 林秀英 lets Lucheng's public security bureau fill her identity card loss report.
_CONSENT_EXAMPLE: dict[str, Any] = {
    "id": "0196f3c5-6f7a-7b8c-9d0e-1f2a3b4c5d6e",
    "consumer": "330302-public_security",
    "resource": "population",
    "fields": ["name", "registered_region"],
    "purpose": "case_prefill",
    "case_id": "330302-20261126-000001",
    "expires_at": "2026-12-26T00:00:00Z",
    "revoked_at": None,
    "created_at": "2026-11-26T01:38:00Z",
    "status": "live",
}


class ConsentRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_CONSENT_EXAMPLE]})

    id: uuid.UUID
    consumer: str
    resource: str
    fields: list[str]
    purpose: str
    case_id: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    created_at: dt.datetime
    #: live | expired | revoked, as of the answer.
    status: Literal["live", "expired", "revoked"]


class ConsentList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        _CONSENT_EXAMPLE,
                        {
                            "id": "0196d2a4-3b5c-7e6f-8a7b-9c0d1e2f3a4b",
                            "consumer": "330302-civil_affairs",
                            "resource": "population",
                            "fields": ["name", "birth_date"],
                            "purpose": "elderly_allowance",
                            "case_id": "330302-20261103-000042",
                            "expires_at": "2027-05-03T00:00:00Z",
                            "revoked_at": "2026-11-20T02:00:00Z",
                            "created_at": "2026-11-03T06:12:45Z",
                            "status": "revoked",
                        },
                    ]
                }
            ]
        }
    )

    items: list[ConsentRead]


class AccessLogItem(BaseModel):
    seq: int
    at: dt.datetime
    call_id: uuid.UUID
    #: match | call
    kind: str
    #: Who: the consuming department (or platform service).
    consumer: str
    #: What.
    resource: str
    fields: list[str]
    #: Why.
    purpose: str
    case_id: str | None
    #: allowed | refused, and the refusal's code.
    outcome: str
    code: str | None
    receipt: ReceiptRead


def _logged(
    seq: int,
    at: str,
    call_id: str,
    consumer: str,
    fields: list[str],
    purpose: str,
    *,
    actor: str | None = None,
    case_id: str | None = None,
    outcome: str = "allowed",
    code: str | None = None,
) -> dict[str, Any]:
    """An access log item of the example, its receipt's entry as the ledger recorded it (the
    entry's time is the exact string it signed)."""
    entry = {
        "seq": seq,
        "at": at,
        "call_id": call_id,
        "kind": "call",
        "consumer": consumer,
        "actor": actor or consumer,
        "resource": "population",
        "fields": fields,
        "purpose": purpose,
        "case_id": case_id,
        # The exchange's keyed hash of her identity number: the ledger never holds the number.
        "subject_hash": "54866fdd5fe518b5b391509f0ae6d72f0f53cf010c2b794020bab25819d96a96",
        "outcome": outcome,
        "code": code,
    }
    item = {name: value for name, value in entry.items() if name not in ("actor", "subject_hash")}
    return {
        **item,
        "at": at.replace("+00:00", "Z"),
        "receipt": {"seq": seq, "leaf_index": seq - 1, "entry": entry, "tree_head": _TREE_HEAD},
    }


#: The ledger's latest signed tree head, which every receipt of a page is given against (signed,
#: for real, by the example's synthetic key: ``GET /exchange/v1/ledger/public-key`` would answer
#: ``hVVE9YLS0TH6+R23aHNvIADfOzaYgOsFys12tPUmInc=``).
_TREE_HEAD: dict[str, Any] = {
    "tree_size": 1208,
    "root_hash": "25bcb03da3aad52dc6dfb0c3371f6b3b432b981f52e6e561dd63c4efff680595",
    "timestamp": "2026-11-26T01:40:06.027391+00:00",
    "signature": "i9viKXB1EpwxH4N/mWHxeYihovPgYgdF13ULIzAi18QTPYJyk721qDA3Qs8l"
    "Se+Qlmm9AMgLwoQWXccGbno2CA==",
    "key_id": "04e642d1632257d9f4b8c2a37e6a74edf5e9034b1eb62c52910a3f7e231dee0e",
}


class AccessLogPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    # The demo citizen's log, newest first: the bureau's read for her case,
                    # refused until she consented, and her real-name verification.
                    "items": [
                        _logged(
                            1207,
                            "2026-11-26T01:40:05.318204+00:00",
                            "0196f3c3-7a8b-7c9d-8e0f-1a2b3c4d5e6f",
                            "330302-public_security",
                            ["name", "registered_region"],
                            "case_prefill",
                            actor="ds-330302-public-security",
                            case_id="330302-20261126-000001",
                        ),
                        _logged(
                            1205,
                            "2026-11-26T01:36:30.901377+00:00",
                            "0196f3c3-6f70-7a81-9b92-a3b4c5d6e7f8",
                            "330302-public_security",
                            ["name", "registered_region"],
                            "case_prefill",
                            actor="ds-330302-public-security",
                            case_id="330302-20261126-000001",
                            outcome="refused",
                            code="consent_required",
                        ),
                        _logged(
                            1201,
                            "2026-11-26T01:31:07.104522+00:00",
                            "0196f3c3-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                            "identity-svc",
                            ["registered_region"],
                            "real_name_verification",
                        ),
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[AccessLogItem]
    #: Pass as ``cursor`` for older entries; None on the last page.
    next_cursor: str | None
