"""The rules of appeals: the handlers and supervisors of the department whose case was
reviewed appeal a bad review of it, once, within ``RATING_APPEAL_WORKING_DAYS`` working days of
the review; the supervisors of the tier above (the same department type in the parent region,
as escalations go) decide. Upheld, the review leaves the published figures (kept, with
``excluded_at``) and its open rectification closes as appealed; rejected, it stands."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc import events
from rating_svc.appeals import repository
from rating_svc.appeals.schemas import AppealCreate, AppealDecisionCreate
from rating_svc.models import CASE, FOLLOW_UP, Appeal, Rating, Rectification
from rating_svc.ratings import repository as ratings_repository
from rating_svc.rectifications import repository as rectifications_repository
from rating_svc.rectifications import service as rectifications
from rating_svc.rules.workflow import Role, Status
from rating_svc.statistics import service as statistics
from servicekit.auth import Principal
from servicekit.events import Outbox
from servicekit.pagination import Cursors
from servicekit.problems import Conflict, Forbidden, NotFound, extension_members
from servicekit.working_days import deadline_after

PENDING = "pending"
UPHELD = "upheld"
REJECTED = "rejected"
_OPEN = frozenset({Status.AWAITING_CALL_BACK, Status.RECTIFYING, Status.AWAITING_FOLLOW_UP})


class NoAppealRole(Forbidden):
    code = "no_appeal_role"
    title = "Only a department's handlers and supervisors appeal, and supervisors decide"


class ReviewNotFound(NotFound):
    code = "review_not_found"
    title = "No such review of your department's cases"


class AppealNotFound(NotFound):
    code = "appeal_not_found"
    title = "No such appeal of or to your department"


class ReviewNotAppealable(Conflict):
    code = "review_not_appealable"
    title = "Only a bad review of a served case is appealed"


class AlreadyAppealed(Conflict):
    code = "already_appealed"
    title = "This review has been appealed already"
    members = extension_members(
        appeal_id={
            "type": "string",
            "format": "uuid",
            "examples": ["0196f3d0-2b3c-7d4e-9f5a-6b7c8d9e0f3a"],
        }
    )


class AppealWindowClosed(Conflict):
    code = "appeal_window_closed"
    title = "The time to appeal this review is over"
    members = extension_members(
        closed_at={
            "type": "string",
            "format": "date-time",
            "description": "When the time to appeal ended",
            "examples": ["2026-12-14T15:59:59Z"],
        }
    )


class DecidedByTierAbove(Forbidden):
    code = "appeal_decided_by_tier_above"
    title = "An appeal is decided by the supervisors of the tier above, not by its department"
    members = extension_members(
        decider_department_id={"type": "string", "examples": ["330300-public_security"]}
    )


class AppealAlreadyDecided(Conflict):
    code = "appeal_already_decided"
    title = "This appeal has been decided"
    members = extension_members(
        appeal_status={"type": "string", "enum": [UPHELD, REJECTED], "examples": [UPHELD]}
    )


def _roles(principal: Principal) -> frozenset[Role]:
    roles = rectifications.staff_roles(principal)
    if not roles:
        raise NoAppealRole()
    return roles


async def file(
    *,
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    rating_id: uuid.UUID,
    payload: AppealCreate,
    now: dt.datetime,
    appeal_working_days: int,
) -> Appeal:
    roles = _roles(principal)
    rating = await ratings_repository.get(session, rating_id)
    # Another department's review is as absent as a missing one: which reviews exist is none
    # of its business.
    if rating is None or rating.department_id != principal.dept:
        raise ReviewNotFound()
    if rating.kind != CASE or not rating.bad_review:
        raise ReviewNotAppealable(f"a {rating.kind} rating at level {rating.level}")
    existing = await repository.of_rating(session, rating.id)
    if existing is not None:
        raise AlreadyAppealed(appeal_id=str(existing.id))
    due_at = deadline_after(rating.created_at, appeal_working_days).due_at
    if now > due_at:
        raise AppealWindowClosed(closed_at=due_at.isoformat())
    appeal = Appeal(
        rating_id=rating.id,
        department_id=rating.department_id,
        decider_department_id=rectifications.tier_above(rating.department_id, rating.region_code),
        case_no=rating.case_no,
        item_code=rating.item_code,
        region_code=rating.region_code,
        grounds=payload.grounds,
        reasons=payload.reasons,
        evidence=list(payload.evidence),
        filed_by=principal.sub,
        filed_by_role=(Role.HANDLER if Role.HANDLER in roles else Role.SUPERVISOR).value,
        filed_at=now,
        appeal_due_at=due_at,
        status=PENDING,
    )
    try:
        await repository.add(session, appeal)
    except IntegrityError as exc:  # the same review appealed twice at once: the second loses
        raise AlreadyAppealed() from exc
    await events.report_appeal_filed(outbox, session, appeal)
    return appeal


async def visible(*, session: AsyncSession, principal: Principal, appeal_id: uuid.UUID) -> Appeal:
    """The appeal, to the staff of the department that filed it and the supervisors of the
    one that decides it; anyone else's is as absent as a missing one."""
    roles = _roles(principal)
    appeal = await repository.get(session, appeal_id)
    if appeal is None:
        raise AppealNotFound()
    if principal.dept == appeal.department_id:
        return appeal
    if Role.SUPERVISOR in roles and principal.dept == appeal.decider_department_id:
        return appeal
    raise AppealNotFound()


async def department_list(
    *,
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Appeal], str | None]:
    """A page of the appeals the caller's department filed (and, for its supervisors, those it
    decides), oldest first, and the cursor of the next page."""
    roles = _roles(principal)
    if principal.dept is None:  # pragma: no cover - staff_roles requires one
        raise NoAppealRole()
    context = f"appeals:{principal.dept}:{principal.sub}:{status or '*'}"
    position = cursors.decode_optional(context, cursor)
    after = None
    if position is not None:
        after = (dt.datetime.fromisoformat(position["at"]), uuid.UUID(hex=position["id"]))
    rows = await repository.of_department(
        session,
        department_id=principal.dept,
        deciding_too=Role.SUPERVISOR in roles,
        status=status,
        after=after,
        limit=limit + 1,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = cursors.encode(context, {"at": last.filed_at.isoformat(), "id": last.id.hex})
    return page, next_cursor


async def decide(
    *,
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    appeal_id: uuid.UUID,
    payload: AppealDecisionCreate,
    now: dt.datetime,
) -> tuple[Appeal, Rating, Rectification | None]:
    """The decision; upheld, the review leaves the figures and its open rectification closes
    as appealed. The appeal, its review, and the review's rectification if any."""
    roles = _roles(principal)
    appeal = await visible(session=session, principal=principal, appeal_id=appeal_id)
    if principal.dept != appeal.decider_department_id or Role.SUPERVISOR not in roles:
        raise DecidedByTierAbove(decider_department_id=appeal.decider_department_id)
    if appeal.status != PENDING:
        raise AppealAlreadyDecided(appeal_status=appeal.status)
    if not await repository.decide_if_pending(
        session,
        appeal.id,
        status=payload.outcome,
        decided_by=principal.sub,
        decided_at=now,
        note=payload.note,
    ):
        raise AppealAlreadyDecided()  # another supervisor's decision came first
    decided = await repository.get(session, appeal.id)
    rating = await ratings_repository.get(session, appeal.rating_id)
    if decided is None or rating is None:  # pragma: no cover - updated in this transaction
        raise AppealNotFound()
    rectification = await rectifications_repository.of_rating(session, rating.id)
    if payload.outcome == UPHELD:
        follow_up = (
            await ratings_repository.get(session, rectification.follow_up_rating_id)
            if rectification is not None and rectification.follow_up_rating_id is not None
            else None
        )
        await statistics.uncount(session, rating, rectification, follow_up)
        await repository.exclude_rating(session, rating.id, at=now)
        await session.refresh(rating)
        if rectification is not None and Status(rectification.status) in _OPEN:
            rectification = await rectifications.close_on_appeal(
                session,
                rectification,
                rectifications.Actor(principal.sub, Role.SUPERVISOR),
                now=now,
            )
            await repository.withdraw_invitations(
                session, case_no=rating.case_no, kind=FOLLOW_UP, at=now
            )
    await events.report_appeal_decided(outbox, session, decided, rating, rectification)
    return decided, rating, rectification
