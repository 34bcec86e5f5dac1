"""What the life-event subscriptions take and give."""

import datetime as dt
import uuid
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from data_exchange_svc.calls.schemas import FieldName, Purpose
from data_exchange_svc.models import EventDelivery


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_type": "life.birth_registered",
                    "endpoint": "https://health.lucheng.example/onevisit/life-events",
                    "purpose": "service_delivery",
                }
            ]
        },
    )

    event_type: str = Field(min_length=1, max_length=64)
    #: Where deliveries are pushed: https, a host, no credentials.
    endpoint: str = Field(min_length=8, max_length=512)
    #: One of the purposes of the department's grant on the event's resource.
    purpose: Purpose
    #: The event's fields wanted (default: all its grant allows).
    fields: list[FieldName] | None = Field(default=None, min_length=1, max_length=32)


_SUBSCRIPTION: dict[str, JsonValue] = {
    "id": "019aef40-7c1e-7b2a-9e51-3f0c8d2a6b11",
    "department": "330302-civil_affairs",
    "event_type": "life.birth_registered",
    "endpoint": "https://civil.lucheng.example/onevisit/life-events",
    "purpose": "service_delivery",
    "fields": ["child_name", "child_birth_date", "birth_region"],
    "status": "active",
    "created_at": "2026-12-07T02:00:00Z",
    "cancelled_at": None,
}
_DELIVERY: dict[str, JsonValue] = {
    "event_id": "019aef41-02aa-7c3d-8f10-6b2e4d9c1a27",
    "event_type": "life.birth_registered",
    "life_event_id": "019aef41-0299-7e4f-a1b2-9c8d7e6f5a43",
    "status": "delivered",
    "attempts": 1,
    "last_error": None,
    "emitted_at": "2026-12-07T02:05:00Z",
    "delivered_at": "2026-12-07T02:05:01Z",
    "ledger_seq": 1207,
}


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SUBSCRIPTION]})

    id: uuid.UUID
    department: str
    event_type: str
    endpoint: str
    purpose: str
    #: What its deliveries carry (beside the subject's identifier), as long as the grant
    #: allows it.
    fields: list[str]
    status: Literal["active", "cancelled"]
    created_at: dt.datetime
    cancelled_at: dt.datetime | None


class SubscriptionCreated(SubscriptionRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [_SUBSCRIPTION | {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]
        }
    )

    #: The signing secret (Standard Webhooks): shown this once, keep it.
    secret: str


class SubscriptionPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_SUBSCRIPTION], "next_cursor": None}]}
    )

    items: list[SubscriptionRead]
    next_cursor: str | None


class DeliveryRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DELIVERY]})

    #: The event's id: the ``webhook-id`` its pushes carry.
    event_id: uuid.UUID
    event_type: str
    life_event_id: uuid.UUID
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    #: Why the last attempt failed: a short code (``http_503``, ``timeout``,
    #: ``grant_ended``).
    last_error: str | None
    emitted_at: dt.datetime
    delivered_at: dt.datetime | None
    #: The ledger entry that records it.
    ledger_seq: int


class DeliveryPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_DELIVERY], "next_cursor": None}]}
    )

    items: list[DeliveryRead]
    next_cursor: str | None


class Redelivery(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"after": "019aef41-02aa-7c3d-8f10-6b2e4d9c1a27"}]},
    )

    #: The last event the department processed (its ``webhook-id``): the ones after it are
    #: pushed again. None: every one the exchange still keeps.
    after: uuid.UUID | None = None


class Redelivering(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"deliveries": 12}]})

    #: How many deliveries are pushed again.
    deliveries: int


def delivery_view(row: EventDelivery) -> DeliveryRead:
    data = orjson.loads(row.envelope)["data"]
    return DeliveryRead.model_validate(
        {
            "event_id": row.event_id,
            "event_type": row.event_type,
            "life_event_id": data["life_event_id"],
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "emitted_at": row.emitted_at,
            "delivered_at": row.delivered_at,
            "ledger_seq": data["receipt"]["seq"],
        }
    )
