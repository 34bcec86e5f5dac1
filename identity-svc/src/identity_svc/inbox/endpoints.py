"""HTTP endpoints of the inbox: her messages, marking one read, and the events endpoint the
relays of case-svc, rating-svc and data-exchange-svc post their events to (through the
gateway)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from identity_svc.delegations.service import DelegatedTokenRefused
from identity_svc.deps import RuntimeDep, SettingsDep, SmsSenderDep
from identity_svc.inbox import service
from identity_svc.inbox.schemas import (
    CASE_EVENT_EXAMPLE,
    DATA_ACCESSED_EXAMPLE,
    DataAccessed,
    Inbox,
    InboxEvent,
)
from identity_svc.inbox.service import MessageNotFound
from identity_svc.models import ReceivedEvent
from identity_svc.offers import service as offers
from identity_svc.offers.schemas import LIFE_EVENT_EXAMPLE, LifeEvent
from identity_svc.settings import IdentitySettings
from servicekit.auth import PrincipalDep, WrongPrincipalType, require_type, requires_scopes
from servicekit.db import SessionDep
from servicekit.events import record_in_inbox
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of
from servicekit.problems import Forbidden, extension_members

router = APIRouter(prefix="/identity/v1", tags=["inbox"])


class NotTheEventProducer(Forbidden):
    code = "not_the_event_producer"
    title = "Only the service that produces this type of event may post it"
    members = extension_members(event_type={"type": "string", "examples": ["case.completed"]})


def producer_of(settings: IdentitySettings, event_type: str) -> str:
    """The client id of the service whose events of this type the inbox takes: case events
    from case-svc, rating-svc's report of a rectification, life events and access notices
    from the exchange."""
    family = event_type.partition(".")[0]
    producers = {
        "case": settings.case_client_id,
        "rectification": settings.rating_client_id,
        "life": settings.exchange_client_id,
        "data": settings.exchange_client_id,
    }
    return producers[family]


@router.get(
    "/me/inbox",
    response_model=Inbox,
    responses=problem_responses(WrongPrincipalType, DelegatedTokenRefused, InvalidCursor),
)
async def read_inbox(
    principal: PrincipalDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    unread_only: Annotated[bool, Query(description="Only what she has not read")] = False,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> Inbox:
    """Your inbox, newest first: what happened to each of your cases (filed, moved on, waiting
    on you, completed and yours to rate), and how many messages you have not read."""
    return await service.inbox_of(
        session,
        principal,
        unread_only=unread_only,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
        now=runtime.now(),
    )


@router.post(
    "/me/inbox/{message_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(WrongPrincipalType, DelegatedTokenRefused, MessageNotFound),
)
async def mark_read(
    message_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> None:
    """Mark a message read (again: no change)."""
    await service.mark_read(session, principal, message_id, now=runtime.now())


@router.post(
    "/events",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[requires_scopes("events:deliver")],
    responses=problem_responses(WrongPrincipalType, NotTheEventProducer),
)
async def receive_case_event(
    event: Annotated[
        InboxEvent, Body(examples=[CASE_EVENT_EXAMPLE, LIFE_EVENT_EXAMPLE, DATA_ACCESSED_EXAMPLE])
    ],
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    sender: SmsSenderDep,
) -> None:
    """case-svc's ``case.submitted``, ``case.status_changed`` and ``case.completed``,
    rating-svc's ``rectification.reported`` and data-exchange-svc's life events (``life.*``)
    and access notices (``data.accessed``) (CloudEvents, structured JSON), each from its own
    producer's client alone: each becomes a message in its citizen's inbox, a life event an
    offer with its message (when the offers' table names its type and her account is there),
    an access a notice (when her account is there), and what waits on her texts her phone.
    Processed once per event id; a redelivery is answered 204 again."""
    require_type(principal, "service")
    if principal.sub != producer_of(settings, event.type):
        raise NotTheEventProducer(event_type=event.type)
    if not await record_in_inbox(session, ReceivedEvent, event):
        return
    now = runtime.now()
    if isinstance(event, LifeEvent):
        message = await offers.make_offer(session, event, now=now)
    elif isinstance(event, DataAccessed):
        message = await service.tell_access(session, event, now=now)
    else:
        message = await service.take(session, event, now=now)
    if message is not None:
        await service.text_if_it_waits_on_her(session, runtime, sender, message, now=now)
