"""HTTP endpoints for invitations: the applicant's list "to rate", and the events endpoint
case-svc's relay posts ``case.completed`` to (through the gateway)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from rating_svc.deps import NowDep, SettingsDep
from rating_svc.invitations import service
from rating_svc.invitations.schemas import CaseCompletedEvent, InvitationPage
from rating_svc.invitations.service import NotTheCaseService
from rating_svc.models import InboxEvent
from servicekit.auth import Principal, PrincipalDep, principal_of, require_type, requires_scopes
from servicekit.db import SessionDep
from servicekit.events import record_in_inbox
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of
from servicekit.problems import DomainError, extension_members

router = APIRouter(prefix="/ratings/v1", tags=["invitations"])

Applicant = Annotated[Principal, principal_of("citizen", "enterprise")]

#: The events rating-svc takes, each the type of one subscription of case-svc's.
CASE_COMPLETED = "case.completed"


class EventTypeNotHandled(DomainError):
    status = 422
    code = "event_type_not_handled"
    title = "rating-svc takes case.completed events only"
    members = extension_members(event_type={"type": "string", "examples": ["case.submitted"]})


async def _case_service(principal: PrincipalDep, settings: SettingsDep) -> Principal:
    """case-svc's own token (client credentials), and no one else's: the events endpoint is
    how completed cases become invitations, which no citizen, staff member or other service
    may make up."""
    require_type(principal, "service")
    if principal.sub != settings.case_client_id:
        raise NotTheCaseService()
    return principal


@router.get(
    "/invitations", response_model=InvitationPage, responses=problem_responses(InvalidCursor)
)
async def list_invitations(
    principal: Applicant,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    now: NowDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> InvitationPage:
    """The caller's completed cases (and rectified bad reviews) still to rate, newest first,
    until each one's time to rate ends. A delegate sees those of the delegated items."""
    return await service.open_invitations(
        session=session,
        principal=principal,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
        now=now,
    )


@router.post(
    "/events",
    dependencies=[requires_scopes("events:deliver")],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(NotTheCaseService, EventTypeNotHandled),
)
async def receive_case_event(
    event: CaseCompletedEvent,
    _case_svc: Annotated[Principal, Depends(_case_service)],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> None:
    """case-svc's ``case.completed`` (a CloudEvent, structured JSON): the applicant is invited
    to rate the case. Processed once per event id; a redelivery is answered 204 again."""
    if event.type != CASE_COMPLETED:
        raise EventTypeNotHandled(event_type=event.type)
    if not await record_in_inbox(session, InboxEvent, event):
        return
    await service.invite_to_rate(
        session,
        event.data,
        event_id=event.id,
        completed_at=event.time or now,
        window=settings.rating_window,
    )
