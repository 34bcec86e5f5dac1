"""HTTP endpoints for appeals: parse, authorise, delegate."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from rating_svc.appeals import service
from rating_svc.appeals.schemas import (
    AppealCreate,
    AppealDecisionCreate,
    AppealList,
    AppealRead,
    AppealStatus,
)
from rating_svc.appeals.service import (
    AlreadyAppealed,
    AppealAlreadyDecided,
    AppealNotFound,
    AppealWindowClosed,
    DecidedByTierAbove,
    NoAppealRole,
    ReviewNotAppealable,
    ReviewNotFound,
)
from rating_svc.deps import NowDep, OutboxDep, SettingsDep
from rating_svc.models import Appeal
from rating_svc.rectifications.service import RectificationChanged
from rating_svc.rules.workflow import StepNotAllowed
from servicekit.auth import Principal, principal_of
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of

router = APIRouter(prefix="/ratings/v1", tags=["appeals"])

Staff = Annotated[Principal, principal_of("staff")]


def appeal_view(appeal: Appeal) -> AppealRead:
    return AppealRead.model_validate(
        {
            "id": appeal.id,
            "rating_id": appeal.rating_id,
            "case_no": appeal.case_no,
            "item_code": appeal.item_code,
            "department_id": appeal.department_id,
            "region_code": appeal.region_code,
            "decider_department_id": appeal.decider_department_id,
            "grounds": appeal.grounds,
            "reasons": appeal.reasons,
            "evidence": list(appeal.evidence),
            "filed_by": appeal.filed_by,
            "filed_at": appeal.filed_at,
            "appeal_due_at": appeal.appeal_due_at,
            "status": appeal.status,
            "decided_by": appeal.decided_by,
            "decided_at": appeal.decided_at,
            "decision_note": appeal.decision_note,
        }
    )


@router.post(
    "/ratings/{rating_id}/appeal",
    status_code=status.HTTP_201_CREATED,
    response_model=AppealRead,
    responses=problem_responses(
        NoAppealRole, ReviewNotFound, ReviewNotAppealable, AlreadyAppealed, AppealWindowClosed
    ),
)
async def file_appeal(
    rating_id: uuid.UUID,
    payload: AppealCreate,
    principal: Staff,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    outbox: OutboxDep,
    response: Response,
) -> AppealRead:
    """The handling department (its handlers and supervisors) appeals a bad review of its case
    as mistaken or malicious, with reasons and evidence, once, within
    ``RATING_APPEAL_WORKING_DAYS`` working days of the review. The supervisors of the tier
    above (the same department in the parent region) decide."""
    appeal = await service.file(
        session=session,
        outbox=outbox,
        principal=principal,
        rating_id=rating_id,
        payload=payload,
        now=now,
        appeal_working_days=settings.appeal_working_days,
    )
    response.headers["Location"] = f"/ratings/v1/appeals/{appeal.id}"
    return appeal_view(appeal)


@router.get(
    "/appeals",
    response_model=AppealList,
    responses=problem_responses(NoAppealRole, InvalidCursor),
)
async def list_appeals(
    principal: Staff,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    status: Annotated[AppealStatus | None, Query(description="Only those in this status")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> AppealList:
    """The appeals the caller's department filed and, for its supervisors, those it decides
    for the tier below; oldest first, a page at a time."""
    appeals, next_cursor = await service.department_list(
        session=session,
        principal=principal,
        status=status,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )
    return AppealList(items=[appeal_view(appeal) for appeal in appeals], next_cursor=next_cursor)


@router.get(
    "/appeals/{appeal_id}",
    response_model=AppealRead,
    responses=problem_responses(NoAppealRole, AppealNotFound),
)
async def get_appeal(appeal_id: uuid.UUID, principal: Staff, session: SessionDep) -> AppealRead:
    """One appeal and, once decided, its outcome: to the department that filed it and the
    supervisors of the one that decides."""
    return appeal_view(
        await service.visible(session=session, principal=principal, appeal_id=appeal_id)
    )


@router.post(
    "/appeals/{appeal_id}/decision",
    response_model=AppealRead,
    responses=problem_responses(
        NoAppealRole,
        AppealNotFound,
        DecidedByTierAbove,
        AppealAlreadyDecided,
        StepNotAllowed,
        RectificationChanged,
    ),
)
async def decide_appeal(
    appeal_id: uuid.UUID,
    payload: AppealDecisionCreate,
    principal: Staff,
    session: SessionDep,
    now: NowDep,
    outbox: OutboxDep,
) -> AppealRead:
    """A supervisor of the tier above upholds the appeal (the review leaves the published
    figures, kept for audit; its open rectification closes as appealed) or rejects it (it
    stands). The citizen sees the outcome on her rating."""
    appeal, _rating, _rectification = await service.decide(
        session=session,
        outbox=outbox,
        principal=principal,
        appeal_id=appeal_id,
        payload=payload,
        now=now,
    )
    return appeal_view(appeal)
