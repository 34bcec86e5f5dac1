"""The events endpoint the relays of case-svc and rating-svc post to (through the gateway):
each event type from its producer's own client alone, counted once per event id."""

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from catalog_svc.deps import SettingsDep
from catalog_svc.models import InboxEvent
from catalog_svc.quality import service
from catalog_svc.quality.schemas import (
    CASE_COMPLETED,
    AppealDecidedEvent,
    CaseCompletedEvent,
    QualityEvent,
    RatingCreatedEvent,
)
from catalog_svc.settings import CatalogSettings
from servicekit.auth import PrincipalDep, require_type, requires_scopes
from servicekit.db import SessionDep, utcnow
from servicekit.events import record_in_inbox
from servicekit.openapi import problem_responses
from servicekit.problems import Forbidden, extension_members

router = APIRouter(prefix="/catalog/v1", tags=["quality"])

_EXAMPLE = {
    "specversion": "1.0",
    "id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1c",
    "source": "/cases",
    "type": "case.completed",
    "subject": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
    "time": "2026-11-30T02:05:44Z",
    "datacontenttype": "application/json",
    "data": {
        "case_id": "0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
        "item_code": "housing_provident_fund.withdrawal",
        "department_id": "330302-housing_provident_fund",
        "working_days_taken": 2,
    },
}


class NotTheEventProducer(Forbidden):
    code = "not_the_event_producer"
    title = "Only the service that produces this type of event may post it"
    members = extension_members(event_type={"type": "string", "examples": ["case.completed"]})


def _producer(settings: CatalogSettings, event_type: str) -> str:
    """The client whose relay posts this type: case-svc's or rating-svc's."""
    if event_type == CASE_COMPLETED:
        return settings.case_client_id
    return settings.rating_client_id


@router.post(
    "/events",
    dependencies=[requires_scopes("events:deliver")],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(NotTheEventProducer),
)
async def receive_event(
    event: Annotated[QualityEvent, Body(examples=[_EXAMPLE])],
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> None:
    """A CloudEvent (structured JSON) that moves an item's live quality: case-svc's
    ``case.completed`` (a completed case and the working days it took), rating-svc's
    ``rating.created`` (a first rating; follow-ups are not counted) and ``appeal.decided``
    (upheld: its review is taken out again). Processed once per event id; a redelivery is
    answered 204 again. The figures show in every process within ``QUALITY_REFRESH_SECONDS``."""
    require_type(principal, "service")
    if principal.sub != _producer(settings, event.type):
        raise NotTheEventProducer(event_type=event.type)
    if not await record_in_inbox(session, InboxEvent, event):
        return
    now = utcnow()
    match event:
        case CaseCompletedEvent():
            await service.count_completed(session, event.data, now=now)
        case RatingCreatedEvent():
            await service.count_rating(session, event.data, now=now)
        case AppealDecidedEvent():
            await service.count_appeal(session, event.data, now=now)
