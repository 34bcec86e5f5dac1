"""The rules of rectification: opened by every bad review, owned by the handling department
(its handlers and supervisors, by identity's staff roles), moved by the workflow table, each
change at the version it read; overdue steps escalated once to the supervisors of the tier
above; closed by the citizen's follow-up rating, or when her time to give it ends. Services
never commit: the request's transaction does, and the watch's own."""

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rating_svc import events
from rating_svc.invitations import service as invitations
from rating_svc.models import Rating, Rectification, RectificationEvent
from rating_svc.rectifications import repository
from rating_svc.rectifications.schemas import (
    CallBackCreate,
    RectificationCreate,
    RectificationPage,
)
from rating_svc.rectifications.views import summary_view
from rating_svc.rules.workflow import (
    STAFF_ROLES,
    WORKFLOW,
    Due,
    NotYourStep,
    Role,
    Status,
    Step,
    next_status,
)
from rating_svc.statistics import service as statistics
from servicekit.auth import Principal
from servicekit.events import Outbox
from servicekit.pagination import Cursors
from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, extension_members
from servicekit.regions import InvalidRegionCode, RegionCode
from servicekit.working_days import deadline_after

log = structlog.get_logger(__name__)

#: The history's actor for what the platform itself does (escalations, lapses).
SYSTEM_ACTOR = "rating-svc"


class RectificationNotFound(NotFound):
    code = "rectification_not_found"
    title = "No such rectification of yours"


class NoRectificationRole(Forbidden):
    code = "no_rectification_role"
    title = "Only a department's handlers and supervisors rectify bad reviews"


class RectificationChanged(Conflict):
    code = "rectification_changed"
    title = "The rectification changed meanwhile: read it again"


class CallBackTimeInvalid(DomainError):
    status = 422
    code = "call_back_time_invalid"
    title = "A call-back takes place after the bad review and not in the future"
    members = extension_members(
        opened_at={
            "type": "string",
            "format": "date-time",
            "description": "When the bad review opened the rectification",
            "examples": ["2026-12-07T02:00:00Z"],
        }
    )


@dataclass(frozen=True)
class Actor:
    id: str
    role: Role
    #: The applicant a delegate acted for.
    acting_for: str | None = None


SYSTEM = Actor(SYSTEM_ACTOR, Role.SYSTEM)


def staff_roles(principal: Principal) -> frozenset[Role]:
    """The parts a staff member's identity roles give them in their department's
    rectifications."""
    if principal.typ != "staff" or not principal.dept:
        return frozenset()
    return frozenset(STAFF_ROLES[role] for role in principal.roles if role in STAFF_ROLES)


def tier_above(department_id: str, region_code: str) -> str:
    """The department of the same type in the region's parent (``330302-public_security`` →
    ``330300-public_security``), whose supervisors an overdue step is escalated to and an
    appeal is decided by; above a provincial department, the province's oversight department
    (the workflow table's ``provincial_oversight``), which has none above it but itself."""
    region_part, _, department_type = department_id.partition("-")
    try:
        region = RegionCode.parse(region_part)
    except InvalidRegionCode:
        region = RegionCode.parse(region_code)
    parent = region.parent
    if not department_type:
        return department_id
    if parent is None:
        return f"{region.official}-{WORKFLOW.provincial_oversight}"
    return f"{parent.official}-{department_type}"


async def open_for(
    session: AsyncSession,
    outbox: Outbox,
    rating: Rating,
    actor: Actor,
    *,
    now: dt.datetime,
    call_back_working_days: int,
    rectification_working_days: int,
) -> Rectification:
    """The rectification a bad review opens: the call-back and the rectification due in
    working days from now."""
    call_back = deadline_after(now, call_back_working_days)
    rectified = deadline_after(now, rectification_working_days)
    rectification = Rectification(
        rating_id=rating.id,
        department_id=rating.department_id,
        case_no=rating.case_no,
        item_code=rating.item_code,
        region_code=rating.region_code,
        applicant_id=rating.applicant_id,
        status=Status.AWAITING_CALL_BACK.value,
        version=1,
        opened_at=now,
        call_back_due_at=call_back.due_at,
        rectification_due_at=rectified.due_at,
        due_provisional=call_back.provisional or rectified.provisional,
    )
    await repository.add(session, rectification)
    await _record(session, rectification, actor, "opened", None, now=now, seq=1)
    await events.report_opened(outbox, session, rectification)
    return rectification


async def _record(
    session: AsyncSession,
    rectification: Rectification,
    actor: Actor,
    action: str,
    from_status: str | None,
    *,
    now: dt.datetime,
    seq: int,
    note: str | None = None,
) -> None:
    await repository.add_event(
        session,
        RectificationEvent(
            rectification_id=rectification.id,
            seq=seq,
            action=action,
            from_status=from_status,
            status=rectification.status,
            actor_id=actor.id,
            actor_role=actor.role.value,
            acting_for=actor.acting_for,
            note=note,
            at=now,
        ),
    )


async def _change(
    session: AsyncSession,
    rectification: Rectification,
    actor: Actor,
    action: str,
    *,
    now: dt.datetime,
    values: dict[str, Any],
    note: str | None = None,
) -> Rectification:
    """One change at the version read, and its history entry; ``RectificationChanged`` when
    another change came first."""
    from_status = rectification.status
    version = rectification.version
    if not await repository.update_at_version(
        session, rectification.id, version=version, values=values
    ):
        raise RectificationChanged()
    changed = await repository.get(session, rectification.id)
    if changed is None:  # pragma: no cover - it was updated in this very transaction
        raise RectificationChanged()
    await _record(session, changed, actor, action, from_status, now=now, seq=version + 1, note=note)
    return changed


def _step(rectification: Rectification, step: Step, role: Role) -> str:
    return next_status(Status(rectification.status), step, role).value


# --- reading ---------------------------------------------------------------------------------


async def visible(
    *, session: AsyncSession, principal: Principal, rectification_id: uuid.UUID
) -> tuple[Rectification, frozenset[Role]]:
    """The rectification and the caller's parts in it: its department's handlers and
    supervisors, the supervisors of the department it was escalated to (reading only: no
    part), its applicant (and her delegate for the delegated items). Anyone else's is as
    absent as a missing one; staff without a rectifying role are refused first."""
    roles = staff_roles(principal)
    if principal.typ == "staff" and not roles:
        raise NoRectificationRole()
    rectification = await repository.get(session, rectification_id)
    if rectification is None:
        raise RectificationNotFound()
    if principal.typ == "staff":
        if principal.dept == rectification.department_id:
            return rectification, roles
        escalated = rectification.escalated_to_department_id
        if Role.SUPERVISOR in roles and escalated is not None and principal.dept == escalated:
            return rectification, frozenset()
        raise RectificationNotFound()
    if principal.typ in ("citizen", "enterprise") and principal.sub == rectification.applicant_id:
        delegated = principal.scope if principal.act is not None else ()
        if not delegated or rectification.item_code in delegated:
            return rectification, frozenset({Role.APPLICANT})
    raise RectificationNotFound()


def _queue_context(principal: Principal, status: str | None) -> str:
    return f"rectifications:{principal.dept}:{principal.sub}:{status or '*'}"


async def department_queue(
    *,
    session: AsyncSession,
    principal: Principal,
    status: Status | None,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> RectificationPage:
    """The caller's department's rectifications, oldest first; a supervisor's list holds
    those escalated to the department too."""
    roles = staff_roles(principal)
    if not roles or principal.dept is None:
        raise NoRectificationRole()
    context = _queue_context(principal, status)
    position = cursors.decode_optional(context, cursor)
    after = None
    if position is not None:
        after = (dt.datetime.fromisoformat(position["at"]), uuid.UUID(hex=position["id"]))
    rows = await repository.queue(
        session,
        department_id=principal.dept,
        escalated_too=Role.SUPERVISOR in roles,
        status=status.value if status is not None else None,
        after=after,
        limit=limit + 1,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = cursors.encode(context, {"at": last.opened_at.isoformat(), "id": last.id.hex})
    return RectificationPage(
        items=[summary_view(rectification, level) for rectification, level in page],
        next_cursor=next_cursor,
    )


# --- the department's steps -------------------------------------------------------------------


def _acting_role(roles: frozenset[Role], step: Step) -> Role:
    """The part the caller takes the step in: a handler's, else a supervisor's; refused when
    they have none that takes it (a supervisor of the tier above reads, and does not act)."""
    allowed = WORKFLOW.steps[step].by
    for role in (Role.HANDLER, Role.SUPERVISOR):
        if role in roles and role in allowed:
            return role
    raise NotYourStep(
        f"{step} is taken by the department's own staff",
        allowed_roles=sorted(role.value for role in allowed),
    )


async def record_call_back(
    *,
    session: AsyncSession,
    principal: Principal,
    rectification_id: uuid.UUID,
    payload: CallBackCreate,
    now: dt.datetime,
) -> Rectification:
    rectification, roles = await visible(
        session=session, principal=principal, rectification_id=rectification_id
    )
    role = _acting_role(roles, Step.CALL_BACK)
    target = _step(rectification, Step.CALL_BACK, role)
    if not rectification.opened_at <= payload.called_back_at <= now:
        raise CallBackTimeInvalid(opened_at=rectification.opened_at.isoformat())
    return await _change(
        session,
        rectification,
        Actor(principal.sub, role),
        Step.CALL_BACK.value,
        now=now,
        note=payload.note,
        values={
            "status": target,
            "called_back_at": payload.called_back_at,
            "call_back_channel": payload.channel,
            "call_back_note": payload.note,
            "call_back_recorded_at": now,
        },
    )


async def record_rectification(
    *,
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    rectification_id: uuid.UUID,
    payload: RectificationCreate,
    now: dt.datetime,
    window: dt.timedelta,
) -> Rectification:
    """What was changed: the citizen is then invited to rate the rectification, until the
    window closes."""
    rectification, roles = await visible(
        session=session, principal=principal, rectification_id=rectification_id
    )
    role = _acting_role(roles, Step.RECTIFY)
    target = _step(rectification, Step.RECTIFY, role)
    follow_up_due_at = now + window
    changed = await _change(
        session,
        rectification,
        Actor(principal.sub, role),
        Step.RECTIFY.value,
        now=now,
        note=payload.note,
        values={
            "status": target,
            "rectification_note": payload.note,
            "rectified_at": now,
            "follow_up_due_at": follow_up_due_at,
        },
    )
    await invitations.invite_to_follow_up(session, changed, expires_at=follow_up_due_at, now=now)
    await events.report_rectified(outbox, session, changed)
    return changed


# --- the citizen's follow-up ------------------------------------------------------------------


async def close_with_follow_up(
    session: AsyncSession,
    outbox: Outbox,
    rectification: Rectification,
    follow_up: Rating,
    actor: Actor,
    *,
    now: dt.datetime,
) -> Rectification:
    target = _step(rectification, Step.FOLLOW_UP, Role.APPLICANT)
    closed = await _change(
        session,
        rectification,
        actor,
        Step.FOLLOW_UP.value,
        now=now,
        values={"status": target, "follow_up_rating_id": follow_up.id, "closed_at": now},
    )
    await statistics.count_follow_up(session, closed, follow_up)
    await statistics.count_closed(session, closed)
    await events.report_closed(outbox, session, closed, follow_up)
    return closed


async def close_on_appeal(
    session: AsyncSession, rectification: Rectification, actor: Actor, *, now: dt.datetime
) -> Rectification:
    """An upheld appeal took the review out of the figures: its open rectification closes as
    appealed, whatever step it was at."""
    target = _step(rectification, Step.APPEAL_UPHELD, actor.role)
    return await _change(
        session,
        rectification,
        actor,
        Step.APPEAL_UPHELD.value,
        now=now,
        values={"status": target, "closed_at": now},
    )


# --- the watch --------------------------------------------------------------------------------

_OVERDUE = {
    Due.CALL_BACK: ("call_back_due_at", "call_back_overdue_at", "call_back_overdue"),
    Due.RECTIFICATION: (
        "rectification_due_at",
        "rectification_overdue_at",
        "rectification_overdue",
    ),
}


async def escalate_overdue(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    *,
    now: dt.datetime,
    batch: int = 100,
) -> int:
    """Mark, once each, the steps newly past their time: the call-back while it is awaited, the
    rectification while it is (a rectification reported late is no longer overdue), and
    escalate each to the supervisors of the tier above (``rectification.overdue``). Each is
    its own transaction at the version it read: replicas running this at once escalate each
    step once. How many."""
    escalated = 0
    for status, due in WORKFLOW.due.items():
        if due not in _OVERDUE:
            continue
        due_column, overdue_column, action = _OVERDUE[due]
        # The rectification's deadline runs from the bad review, so it is watched while the
        # call-back is awaited too.
        watched = [status]
        if due is Due.RECTIFICATION:
            watched.append(Status.AWAITING_CALL_BACK)
        for watched_status in watched:
            async with sessionmaker() as session:
                found = await repository.past_due(
                    session,
                    status=watched_status.value,
                    due_column=due_column,
                    overdue_column=overdue_column,
                    now=now,
                    limit=batch,
                )
            for rectification_id in found:
                try:
                    async with sessionmaker.begin() as session:
                        rectification = await repository.get(session, rectification_id)
                        if rectification is None or getattr(rectification, overdue_column):
                            continue
                        if rectification.status != watched_status.value:
                            continue
                        changed = await _change(
                            session,
                            rectification,
                            SYSTEM,
                            action,
                            now=now,
                            values={
                                overdue_column: now,
                                "escalated_to_department_id": tier_above(
                                    rectification.department_id, rectification.region_code
                                ),
                            },
                        )
                        due_at: dt.datetime = getattr(changed, due_column)
                        await events.report_overdue(
                            outbox, session, changed, step=due.value, due_at=due_at.isoformat()
                        )
                        escalated += 1
                except RectificationChanged:
                    continue  # another replica, or a step, changed it meanwhile
    return escalated


async def close_lapsed(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    *,
    now: dt.datetime,
    batch: int = 100,
) -> int:
    """Close, as the system, the rectifications whose citizen did not rate them in her time.
    How many."""
    async with sessionmaker() as session:
        found = await repository.follow_ups_lapsed(
            session, status=Status.AWAITING_FOLLOW_UP.value, now=now, limit=batch
        )
    closed = 0
    for rectification_id in found:
        try:
            async with sessionmaker.begin() as session:
                rectification = await repository.get(session, rectification_id)
                if rectification is None or rectification.status != Status.AWAITING_FOLLOW_UP:
                    continue
                target = _step(rectification, Step.FOLLOW_UP_LAPSED, Role.SYSTEM)
                changed = await _change(
                    session,
                    rectification,
                    SYSTEM,
                    Step.FOLLOW_UP_LAPSED.value,
                    now=now,
                    values={"status": target, "closed_at": now},
                )
                await statistics.count_closed(session, changed)
                await events.report_closed(outbox, session, changed, None)
                closed += 1
        except RectificationChanged:
            continue
    return closed


async def watch_rectifications(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    clock: Callable[[], dt.datetime],
    *,
    every_seconds: float,
) -> None:
    """Every ``every_seconds`` until cancelled: escalate the steps newly overdue, close the
    rectifications whose follow-up lapsed. A failed round (the database away) is logged and the
    next one tries again."""
    while True:
        try:
            now = clock()
            escalated = await escalate_overdue(sessionmaker, outbox, now=now)
            lapsed = await close_lapsed(sessionmaker, outbox, now=now)
            if escalated or lapsed:
                log.info("rectifications_watched", escalated=escalated, lapsed=lapsed)
        except SQLAlchemyError as exc:
            log.warning("rectification_watch_failed", error_type=type(exc).__name__)
        await asyncio.sleep(every_seconds)
