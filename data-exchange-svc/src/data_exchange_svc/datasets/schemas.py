"""What a provider's bulk load takes and gives, and the record changes held for a steward."""

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from data_exchange_svc.calls.schemas import FieldName, Subject
from data_exchange_svc.grants.schemas import Note
from data_exchange_svc.ledger.schemas import RECEIPT_EXAMPLE, SignedTreeHeadRead

#: Records per request at most: a batch is one transaction.
MAX_RECORDS = 1000


class RecordLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject
    #: Every loaded field of the resource (see its catalogue entry), in its type's JSON form.
    fields: dict[FieldName, JsonValue] = Field(max_length=64)


class RecordBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "records": [
                        {
                            "subject": {"id_number": "330302195203140248"},
                            "fields": {
                                "name": "林秀英",
                                "sex": "female",
                                "birth_date": "1952-03-14",
                                "registered_region": "330302026003",
                            },
                        }
                    ]
                }
            ]
        },
    )

    #: For a many-row resource, a subject's records in a batch are all its rows.
    records: list[RecordLoad] = Field(min_length=1, max_length=MAX_RECORDS)


class LoadRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resource": "population",
                    "records": 1,
                    "subjects": 1,
                    "created": 0,
                    "replaced": 1,
                    "rows": 1,
                    "ledger_entries": [RECEIPT_EXAMPLE["seq"]],
                    "tree_head": RECEIPT_EXAMPLE["tree_head"],
                }
            ]
        }
    )

    resource: str
    #: Records received, and the subjects they name.
    records: int
    subjects: int
    #: Subjects the resource did not hold before, and subjects whose rows were replaced.
    created: int
    replaced: int
    #: Rows now stored for these subjects.
    rows: int
    #: The ledger entry of each subject's write, in the order the batch first names them: each
    #: shows in the subject's access log; ``/ledger/entries/{seq}/proof`` proves it.
    ledger_entries: list[int]
    #: A signed tree head that includes every one of those entries.
    tree_head: SignedTreeHeadRead


class SubjectChangeRead(BaseModel):
    #: The index of the subject's (first) record in the batch.
    row: int
    #: The identity-critical fields the batch changes.
    fields: list[str]


_CHANGE_EXAMPLE: dict[str, Any] = {
    "id": "019bf3a0-7c1e-7d2a-9a55-3f1c2b9e8d41",
    "resource": "population",
    "department": "330302-public_security",
    "requested_by": "lucheng-police-registry",
    "status": "pending",
    "records": 1,
    "changes": [{"row": 0, "fields": ["face_template"]}],
    "created_at": "2026-12-07T03:10:00Z",
    "decided_by": None,
    "decided_at": None,
    "decision_note": None,
}


class RecordChangeRead(BaseModel):
    """A load held for a data steward: what it would change, never the values."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CHANGE_EXAMPLE]})

    id: uuid.UUID
    resource: str
    #: The department whose system sent the batch, and that system.
    department: str
    requested_by: str
    status: Literal["pending", "approved", "refused"]
    #: Records in the batch.
    records: int
    changes: list[SubjectChangeRead]
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None


class RecordChangeDecided(RecordChangeRead):
    """A change decided; when approved, the load it made."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CHANGE_EXAMPLE,
                    "status": "approved",
                    "decided_by": "0193a9c4-5f3e-7b21-9c4d-8e2f1a6b3c5d",
                    "decided_at": "2026-12-07T03:40:00Z",
                    "load": {
                        "resource": "population",
                        "records": 1,
                        "subjects": 1,
                        "created": 0,
                        "replaced": 1,
                        "rows": 1,
                        "ledger_entries": [RECEIPT_EXAMPLE["seq"]],
                        "tree_head": RECEIPT_EXAMPLE["tree_head"],
                    },
                }
            ]
        }
    )

    load: LoadRead | None = None


class RecordChangePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_CHANGE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[RecordChangeRead]
    next_cursor: str | None


class RecordChangeRefuse(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "未见本人申请材料"}]}
    )

    reason: Note
