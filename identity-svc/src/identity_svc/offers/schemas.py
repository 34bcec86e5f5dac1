"""The life events offers are made from, and offers as the citizen reads and confirms them."""

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.events import CloudEvent

#: ``expired``: still open when its ``expires_at`` passed; it files nothing any more.
OfferStatus = Literal["open", "confirmed", "declined", "expired"]


class LifeEventData(BaseModel):
    """The data of data-exchange-svc's life events: whose account, which event (the rest is not
    read)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    #: Her identity account's id, as a token's ``sub``.
    account_id: str = Field(min_length=1, max_length=64)
    life_event_id: uuid.UUID
    #: The registry resource the event was read from, e.g. ``child_birth_certificate``.
    resource: str = Field(min_length=1, max_length=64)


LIFE_EVENT_EXAMPLE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f2a",
    "source": "/exchange",
    "type": "life.birth_registered",
    "subject": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f2b",
    "time": "2026-12-07T10:00:00Z",
    "datacontenttype": "application/json",
    "data": {
        "account_id": "0196f3d0-0000-7000-8000-000000000001",
        "life_event_id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f2b",
        "resource": "child_birth_certificate",
    },
}


class LifeEvent(CloudEvent[LifeEventData]):
    """A life event of hers the exchange learnt from a registry (``life.birth_registered``,
    ``life.id_card_expiring``, ``life.death_registered``, and those to come)."""

    model_config = ConfigDict(
        extra="allow", frozen=True, json_schema_extra={"examples": [LIFE_EVENT_EXAMPLE]}
    )

    type: str = Field(pattern=r"^life\.[a-z_]{1,58}$")


_OFFER: dict[str, Any] = {
    "id": "0196f3d0-7a1b-7c2d-8e3f-4a5b6c7d8e01",
    "event_type": "life.birth_registered",
    "status": "open",
    "files": {"kind": "bundle", "code": "birth"},
    "title": "出生一件事：一键办理",
    "summary": "医院已为您的孩子登记出生医学证明。确认后……",
    "expires_at": "2027-01-06T10:00:00Z",
    "draft_no": None,
    "application_no": None,
    "created_at": "2026-12-07T10:00:00Z",
}


class OfferFiles(BaseModel):
    kind: Literal["bundle", "item"] = Field(
        description="bundle: a one-issue bundle (its catalogue bundle code), filed as one "
        "application; item: one catalogue item, filed as one case"
    )
    code: str


class OfferRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_OFFER]})

    id: uuid.UUID
    event_type: str = Field(description="The life event it was made from")
    status: OfferStatus
    files: OfferFiles = Field(description="What confirming it files")
    title: str
    summary: str = Field(description="What confirming it does, her consent included")
    expires_at: dt.datetime
    draft_no: str | None = Field(
        description="The draft her confirmation opened (a bundle draft's number or an item "
        "draft's), when one was"
    )
    application_no: str | None = Field(
        description="Once confirmed: the bundle application's number, or the case's"
    )
    created_at: dt.datetime


class OfferPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_OFFER], "next_cursor": None}]}
    )

    items: list[OfferRead]
    next_cursor: str | None


class OfferConfirmation(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answers": {"mother_employee_insured": True}}]},
    )

    answers: dict[str, Any] = Field(
        default_factory=dict,
        description="For a bundle: her answers to the questions that decide which of its items "
        "apply (the catalogue bundle's questions)",
    )


class FiledChild(BaseModel):
    item_code: str
    case_no: str | None
    status: str | None
    department_id: str | None


class OfferFiled(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "offer": {
                        **_OFFER,
                        "status": "confirmed",
                        "draft_no": "330302-B20261207-3f9a0c1b5e27",
                        "application_no": "330302-B20261207-3f9a0c1b5e27",
                    },
                    "application_no": "330302-B20261207-3f9a0c1b5e27",
                    "children": [
                        {
                            "item_code": "public_security.birth_registration",
                            "case_no": "330300-20261207-000004",
                            "status": "submitted",
                            "department_id": "330302-public_security",
                        }
                    ],
                }
            ]
        }
    )

    offer: OfferRead
    application_no: str = Field(
        description="The bundle application's number (follow it at "
        "/cases/v1/bundle-applications), or the case's (at /cases/v1/cases)"
    )
    children: list[FiledChild] = Field(description="The cases filed: one per item")
