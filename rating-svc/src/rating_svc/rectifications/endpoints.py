"""HTTP endpoints for rectifications: parse, authorise, delegate."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.deps import NowDep, OutboxDep, SettingsDep
from rating_svc.models import Rating, Rectification
from rating_svc.rectifications import repository, service
from rating_svc.rectifications.schemas import (
    CallBackCreate,
    RectificationCreate,
    RectificationPage,
    RectificationRead,
)
from rating_svc.rectifications.service import (
    CallBackTimeInvalid,
    NoRectificationRole,
    RectificationChanged,
    RectificationNotFound,
)
from rating_svc.rectifications.views import rectification_view
from rating_svc.rules.workflow import NotYourStep, Role, Status, StepNotAllowed
from servicekit.auth import Principal, principal_of
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of

router = APIRouter(prefix="/ratings/v1", tags=["rectifications"])

Staff = Annotated[Principal, principal_of("staff")]
Reader = Annotated[Principal, principal_of("citizen", "enterprise", "staff")]
STEP_PROBLEMS = (
    NoRectificationRole,
    RectificationNotFound,
    NotYourStep,
    StepNotAllowed,
    RectificationChanged,
)


async def _view(
    session: AsyncSession, rectification: Rectification, roles: frozenset[Role]
) -> RectificationRead:
    rating = await session.get(Rating, rectification.rating_id)
    if rating is None:  # pragma: no cover - the foreign key keeps it
        raise RectificationNotFound()
    history = await repository.history(session, rectification.id)
    return rectification_view(
        rectification, rating, history, staff_view=Role.APPLICANT not in roles
    )


@router.get(
    "/rectifications",
    response_model=RectificationPage,
    responses=problem_responses(NoRectificationRole, InvalidCursor),
)
async def list_rectifications(
    principal: Staff,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    status: Annotated[Status | None, Query(description="Only those in this status")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> RectificationPage:
    """The caller's department's rectifications, oldest first: its handlers' and
    supervisors' queue. A supervisor's list holds those escalated to the department from the
    tier below too."""
    return await service.department_queue(
        session=session,
        principal=principal,
        status=status,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )


@router.get(
    "/rectifications/{rectification_id}",
    response_model=RectificationRead,
    responses=problem_responses(NoRectificationRole, RectificationNotFound),
)
async def get_rectification(
    rectification_id: uuid.UUID, principal: Reader, session: SessionDep
) -> RectificationRead:
    """One rectification with the bad review, its deadlines, its steps and its history: to its
    department's handlers and supervisors, the supervisors it was escalated to, and the
    citizen whose review it is."""
    rectification, roles = await service.visible(
        session=session, principal=principal, rectification_id=rectification_id
    )
    return await _view(session, rectification, roles)


@router.post(
    "/rectifications/{rectification_id}/call-back",
    response_model=RectificationRead,
    responses=problem_responses(*STEP_PROBLEMS, CallBackTimeInvalid),
)
async def record_call_back(
    rectification_id: uuid.UUID,
    payload: CallBackCreate,
    principal: Staff,
    session: SessionDep,
    now: NowDep,
) -> RectificationRead:
    """The department called the citizen back: when, how, what was said. Due within
    ``RATING_CALL_BACK_WORKING_DAYS`` working days of the bad review."""
    rectification = await service.record_call_back(
        session=session,
        principal=principal,
        rectification_id=rectification_id,
        payload=payload,
        now=now,
    )
    return await _view(session, rectification, frozenset({Role.HANDLER}))


@router.post(
    "/rectifications/{rectification_id}/rectification",
    response_model=RectificationRead,
    responses=problem_responses(*STEP_PROBLEMS),
)
async def record_rectification(
    rectification_id: uuid.UUID,
    payload: RectificationCreate,
    principal: Staff,
    session: SessionDep,
    outbox: OutboxDep,
    settings: SettingsDep,
    now: NowDep,
) -> RectificationRead:
    """The department reports what it changed, after the call-back. Due within
    ``RATING_RECTIFICATION_WORKING_DAYS`` working days of the bad review. The citizen is then
    invited to rate the rectification (a rating of kind ``follow_up``), which closes it."""
    rectification = await service.record_rectification(
        session=session,
        outbox=outbox,
        principal=principal,
        rectification_id=rectification_id,
        payload=payload,
        now=now,
        window=settings.rating_window,
    )
    return await _view(session, rectification, frozenset({Role.HANDLER}))
