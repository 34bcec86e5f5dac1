"""The events the inbox takes (case-svc's case events, rating-svc's reports, data-exchange-svc's
life events and access notices), and its messages as the citizen reads them."""

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag

from identity_svc.offers.schemas import LifeEvent, OfferRead
from servicekit.case_numbers import CASE_NUMBER_PATTERN
from servicekit.events import CloudEvent

MessageKind = Literal[
    "case_filed",
    "case_progressed",
    "action_needed",
    "case_completed",
    "rectification_reported",
    "offer",
    "data_accessed",
]


class CaseEventData(BaseModel):
    """The data of case-svc's case events: ids and codes (the rest is not read)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: uuid.UUID
    case_no: str = Field(pattern=CASE_NUMBER_PATTERN)
    item_code: str = Field(min_length=1, max_length=64)
    applicant_id: str = Field(min_length=1, max_length=64)
    status: str = Field(min_length=1, max_length=32)


CASE_EVENT_EXAMPLE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1c",
    "source": "/cases",
    "type": "case.status_changed",
    "subject": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
    "time": "2026-12-07T02:05:44Z",
    "datacontenttype": "application/json",
    "data": {
        "case_id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
        "case_no": "330300-20261207-000001",
        "item_code": "housing_provident_fund.withdrawal",
        "applicant_id": "0196f3d0-0000-7000-8000-000000000001",
        "status": "supplement_requested",
    },
}


class CaseEvent(CloudEvent[CaseEventData]):
    """``case.submitted``, ``case.status_changed`` or ``case.completed`` as case-svc's relay
    posts it."""

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        json_schema_extra={"examples": [CASE_EVENT_EXAMPLE]},
    )

    type: Literal["case.submitted", "case.status_changed", "case.completed"]


class RectificationReportedData(BaseModel):
    """rating-svc's ``rectification.reported``: ids and codes (the rest is not read)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rectification_id: uuid.UUID
    case_no: str = Field(pattern=CASE_NUMBER_PATTERN)
    item_code: str = Field(min_length=1, max_length=64)
    applicant_id: str = Field(min_length=1, max_length=64)
    status: str = Field(min_length=1, max_length=32)


class RectificationReported(CloudEvent[RectificationReportedData]):
    """The department reported what it changed after her bad review: hers to rate again."""

    type: Literal["rectification.reported"]


class AccessNotice(BaseModel):
    """One access to her data, as the exchange's ledger recorded it: ids and codes, never a
    value read. What her message keeps and shows."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ledger_seq: int = Field(
        ge=1, description="The ledger entry's place: its receipt is at the public ledger"
    )
    kind: Literal["call", "match", "delivery"] = Field(
        description="call: her data was read; match: her data was checked against what the "
        "caller held; delivery: a life event of hers was sent to a subscriber"
    )
    consumer: str = Field(
        min_length=1, max_length=128, description="Who: the department (or service) id"
    )
    purpose: str = Field(min_length=1, max_length=64, description="Why: the purpose code")
    resource: str = Field(min_length=1, max_length=64, description="What: the resource code")
    fields: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        max_length=200, description="What: the names of the fields disclosed (never values)"
    )
    case_id: str | None = Field(
        default=None, max_length=64, description="The case it was for, when one was named"
    )
    at: AwareDatetime = Field(description="When")


class DataAccessedData(AccessNotice):
    """The data of data-exchange-svc's ``data.accessed``: whose account, and the access."""

    #: Her identity account's id, as a token's ``sub``.
    account_id: str = Field(min_length=1, max_length=64)


DATA_ACCESSED_EXAMPLE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f3a",
    "source": "/exchange",
    "type": "data.accessed",
    "subject": "0196f3d0-0000-7000-8000-000000000001",
    "time": "2026-12-07T10:00:00Z",
    "datacontenttype": "application/json",
    "data": {
        "account_id": "0196f3d0-0000-7000-8000-000000000001",
        "ledger_seq": 1207,
        "kind": "call",
        "consumer": "330302-civil_affairs",
        "purpose": "elderly_allowance",
        "resource": "population",
        "fields": ["name", "birth_date"],
        "case_id": "330302-20261207-000001",
        "at": "2026-12-07T10:00:00Z",
    },
}


class DataAccessed(CloudEvent[DataAccessedData]):
    """An access to her data the exchange recorded in its ledger: hers to know of."""

    model_config = ConfigDict(
        extra="allow", frozen=True, json_schema_extra={"examples": [DATA_ACCESSED_EXAMPLE]}
    )

    type: Literal["data.accessed"]


#: Which model takes an event, by the envelope's ``type``: any ``life.*`` type is a life
#: event (those the offers' table does not name are acknowledged and make nothing).
_EVENT_MODELS = {
    "case.submitted": "case",
    "case.status_changed": "case",
    "case.completed": "case",
    "rectification.reported": "rectification",
    "data.accessed": "access",
}


def _event_model(event: Any) -> str | None:
    event_type = event.get("type") if isinstance(event, dict) else getattr(event, "type", None)
    if not isinstance(event_type, str):
        return None
    return "life" if event_type.startswith("life.") else _EVENT_MODELS.get(event_type)


#: What the events endpoint takes, told apart by the envelope's ``type``.
InboxEvent = Annotated[
    Annotated[CaseEvent, Tag("case")]
    | Annotated[RectificationReported, Tag("rectification")]
    | Annotated[LifeEvent, Tag("life")]
    | Annotated[DataAccessed, Tag("access")],
    Discriminator(_event_model),
]


_MESSAGE: dict[str, Any] = {
    "id": "0196f3d0-7a1b-7c2d-8e3f-4a5b6c7d8e9f",
    "kind": "action_needed",
    "case_no": "330300-20261207-000001",
    "item_code": "housing_provident_fund.withdrawal",
    "case_status": "supplement_requested",
    "created_at": "2026-12-07T02:05:45Z",
    "read_at": None,
    "texted": True,
    "offer": None,
    "access": None,
}


class MessageRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MESSAGE]})

    id: uuid.UUID
    kind: MessageKind = Field(
        description="case_filed; case_progressed; action_needed: it waits on her (a supplement "
        "asked for), and her phone was texted; case_completed: done, hers to rate; "
        "rectification_reported: the department answered her bad review, hers to rate again; "
        "offer: a life event of hers calls for something the platform can file in one step, "
        "once she confirms (``offer``), and her phone was texted; data_accessed: her data "
        "was accessed (``access``), for her to know (no text)"
    )
    case_no: str | None = Field(
        description="A case's message: the case (null for an offer or an access)"
    )
    item_code: str | None
    case_status: str | None
    offer: OfferRead | None = Field(description="An offer's message: the offer, as it is now")
    access: AccessNotice | None = Field(
        description="An access's message: who accessed what of hers, why and when, and its "
        "ledger seq"
    )
    created_at: dt.datetime
    read_at: dt.datetime | None
    texted: bool = Field(description="Whether her phone was texted about it")


class Inbox(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_MESSAGE], "unread": 1, "next_cursor": None}]}
    )

    items: list[MessageRead]
    unread: int = Field(description="Her unread messages, all of them")
    next_cursor: str | None
