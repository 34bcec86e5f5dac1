"""The rules of handling a case: claiming it, and moving it through the workflow table, with
the conditions the table names checked against the case (its assignee, its reviewer, what was
asked once) and its deadline clock paused and moved on. Services never commit: the request's
transaction does.
"""

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_svc import events
from case_svc.cases import applicant, repository
from case_svc.cases.forms import validate_form
from case_svc.cases.schemas import (
    AssigneeUpdate,
    CaseRead,
    CertificateIssue,
    TransitionCreate,
)
from case_svc.cases.service import (
    SYSTEM_ACTOR,
    CaseNotFound,
    acting_for,
    actor_of,
    case_etag,
    case_view,
    certificate_of,
    claim_holder,
    visible_case,
)
from case_svc.clients import catalog
from case_svc.materials import repository as materials_repository
from case_svc.models import Case, CaseEvent, CertificatePublication
from case_svc.publications import repository as publications_repository
from case_svc.workflow import deadlines, state_machine
from case_svc.workflow.state_machine import (
    Action,
    CaseStatus,
    Clock,
    DecisionApproval,
    Part,
    Role,
    Transition,
)
from servicekit.auth import Principal
from servicekit.events import Outbox
from servicekit.preconditions import PreconditionFailed, require_match
from servicekit.problems import Conflict, DomainError, Forbidden, extension_members

log = structlog.get_logger(__name__)

#: The statuses in which no one handles a case any more: a claim on it means nothing.
_ENDED = frozenset(
    status for status, clock in state_machine.CLOCK.items() if clock is Clock.STOPPED
)


class ClaimRequired(Conflict):
    code = "claim_required"
    title = "Claim the case first: only the staff member it is claimed by acts on it"
    members = extension_members(
        claimed={
            "type": "boolean",
            "description": "Whether another staff member holds the case now",
            "examples": [True],
        }
    )


class ClaimedByAnother(Conflict):
    code = "claimed_by_another"
    title = "Another staff member holds this case; a supervisor may reassign it"


class NotTheAssignee(Conflict):
    code = "not_the_assignee"
    title = "Only the staff member who holds the case releases it"


class CaseEnded(Conflict):
    code = "case_ended"
    title = "The case has ended: no one claims or reassigns it"


class FourEyesRequired(Forbidden):
    code = "four_eyes_required"
    title = "The staff member who reviewed the case cannot approve its decision"


class AlreadyTakenOnce(Conflict):
    code = "action_taken_once"
    title = "This action is taken once per case: the supplement notice says everything at once"
    members = extension_members(action={"type": "string", "examples": ["request_supplement"]})


class PartRequired(DomainError):
    status = 422
    code = "step_part_required"
    title = "This step needs a part of the request besides its note"
    members = extension_members(
        part={
            "type": "string",
            "enum": [part.value for part in Part],
            "description": "The part to send: a supplement request its notice, a supplement "
            "its form, an extension, a suspension, a transfer",
            "examples": ["notice"],
        }
    )


class NoticeInvalid(DomainError):
    status = 422
    code = "notice_invalid"
    title = "The notice names fields the item's form does not have, or the applicant's identity"
    members = extension_members(
        fields={
            "type": "array",
            "items": {"type": "string"},
            "description": "The fields it cannot name",
            "examples": [["id_number"]],
        }
    )


class SupplementMismatch(DomainError):
    status = 422
    code = "supplement_mismatch"
    title = "A supplement gives a value for each field the notice named, and nothing else"
    members = extension_members(
        missing={
            "type": "array",
            "items": {"type": "string"},
            "description": "Fields the notice named that the supplement leaves out",
            "examples": [["bank_account"]],
        },
        unexpected={
            "type": "array",
            "items": {"type": "string"},
            "description": "Fields the notice did not name",
            "examples": [["name"]],
        },
    )


class MaterialsMissing(DomainError):
    status = 422
    code = "supplement_materials_missing"
    title = "Upload each material the notice named (under its name) before sending the supplement"
    members = extension_members(
        materials={
            "type": "array",
            "items": {"type": "string"},
            "description": "The materials the notice named that are not uploaded since",
            "examples": [["退休证明"]],
        }
    )


class NotForThisAction(DomainError):
    status = 422
    code = "not_for_this_action"
    title = "A part of the request belongs to another step: a notice to request_supplement, a "
    "form to supplement, an extension to extend, a suspension to suspend, a transfer to "
    "transfer, a certificate to deliver (of an item that issues one)"
    members = extension_members(
        action={"type": "string", "examples": ["accept"]},
        parts={
            "type": "array",
            "items": {"type": "string"},
            "description": "The parts this step does not take",
            "examples": [["notice"]],
        },
    )


class CertificateHolderUnknown(Conflict):
    code = "certificate_holder_unknown"
    title = "The case was filed without its applicant's verified identity: the certificate "
    "cannot be issued to anyone through case-svc"


class TransferRefused(DomainError):
    status = 422
    code = "transfer_refused"
    title = "A case moves to another department of its own region, not to its own or elsewhere"
    members = extension_members(
        region_code={"type": "string", "description": "The case's region", "examples": ["330302"]}
    )


# --- claiming -----------------------------------------------------------------------------------


async def _staff_case(
    session: AsyncSession, principal: Principal, case_no: str, role: Role
) -> tuple[Case, frozenset[Role]]:
    case, roles = await visible_case(session=session, principal=principal, case_no=case_no)
    if role not in roles:
        raise state_machine.NotYourTransition(
            f"only a {role} does this", action=_ACTION_OF[role], allowed_roles=[role.value]
        )
    return case, roles


_ACTION_OF = {Role.HANDLER: "claim", Role.SUPERVISOR: "reassign"}


async def claim_case(
    *,
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    case_no: str,
    if_match: str | None,
    now: dt.datetime,
    idle: dt.timedelta,
) -> CaseRead:
    """A handler takes the case: it is locked to them until they release it, a supervisor
    reassigns it, or it lies idle for ``idle``. Of two handlers claiming at once, one wins and
    the other is told the case changed (412)."""
    case, roles = await _staff_case(session, principal, case_no, Role.HANDLER)
    require_match(if_match, case_etag(case.version))
    if CaseStatus(case.status) in _ENDED:
        raise CaseEnded()
    holder = claim_holder(case, now=now, idle=idle)
    if holder is not None and holder != principal.sub:
        raise ClaimedByAnother()
    await _record(
        session,
        outbox,
        case,
        _actor(principal, Role.HANDLER),
        "claim",
        now=now,
        assignee=principal.sub,
    )
    return await _reread(session, case, principal, roles, now=now, idle=idle)


async def release_case(
    *,
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    case_no: str,
    if_match: str | None,
    now: dt.datetime,
    idle: dt.timedelta,
) -> CaseRead:
    """The holder gives the case back to the department's queue."""
    case, roles = await _staff_case(session, principal, case_no, Role.HANDLER)
    require_match(if_match, case_etag(case.version))
    if claim_holder(case, now=now, idle=idle) != principal.sub:
        raise NotTheAssignee()
    await _record(
        session, outbox, case, _actor(principal, Role.HANDLER), "release", now=now, assignee=None
    )
    return await _reread(session, case, principal, roles, now=now, idle=idle)


async def reassign_case(
    *,
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    case_no: str,
    payload: AssigneeUpdate,
    if_match: str | None,
    now: dt.datetime,
    idle: dt.timedelta,
) -> CaseRead:
    """A supervisor gives the case to another handler of the department, or back to its queue.
    Who is a handler is identity-svc's to say: case-svc records the account the supervisor
    names, and that account acts only if its own token carries the handler role."""
    case, roles = await _staff_case(session, principal, case_no, Role.SUPERVISOR)
    require_match(if_match, case_etag(case.version))
    if CaseStatus(case.status) in _ENDED:
        raise CaseEnded()
    await _record(
        session,
        outbox,
        case,
        _actor(principal, Role.SUPERVISOR),
        "reassign",
        now=now,
        assignee=payload.assignee_id,
        detail={"assignee_id": payload.assignee_id},
    )
    return await _reread(session, case, principal, roles, now=now, idle=idle)


# --- deemed acceptance ------------------------------------------------------------------------

DEEMED_ACCEPTANCE_NOTE = "逾期未作出受理决定，自收到申请之日起即视为受理（行政许可法第三十二条）"


async def accept_undecided_intakes(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    *,
    now: dt.datetime,
    batch: int = 100,
) -> int:
    """Accept, as the system, every application whose intake was left undecided past its time
    (``intake_due_at``), once each, recorded as deemed. Each case is its own transaction at the
    version it was read: replicas running this at once accept each case once, the others
    finding it changed and passing on. How many it accepted."""
    async with sessionmaker() as session:
        due = await repository.intakes_past_due(session, now=now, limit=batch)
    accepted = 0
    for case_id in due:
        try:
            async with sessionmaker.begin() as session:
                case = await repository.case_by_id(session, case_id)
                if case is None or not _intake_past_due(case, now):
                    continue
                state_machine.next_status(CaseStatus(case.status), Action.ACCEPT, Role.SYSTEM)
                await _record(
                    session,
                    outbox,
                    case,
                    SYSTEM,
                    Action.ACCEPT.value,
                    now=now,
                    target=CaseStatus.ACCEPTED,
                    note=DEEMED_ACCEPTANCE_NOTE,
                    detail={"deemed": True},
                )
                accepted += 1
        except PreconditionFailed:
            continue  # another replica, or a handler, moved it meanwhile
    return accepted


def _intake_past_due(case: Case, now: dt.datetime) -> bool:
    return (
        case.status == CaseStatus.SUBMITTED.value
        and case.intake_due_at is not None
        and case.intake_due_at < now
    )


async def report_overdue_cases(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    *,
    now: dt.datetime,
    batch: int = 100,
) -> int:
    """Report, once each, the open cases whose clock runs past their promised time
    (``case.overdue``): the mark and the event commit together, and the mark is taken by one
    conditional update, so replicas running this at once report each case once. It changes no
    version: being late is no step anyone took. How many it reported."""
    async with sessionmaker() as session:
        due = await repository.newly_overdue(session, now=now, limit=batch)
    reported = 0
    for case_id in due:
        async with sessionmaker.begin() as session:
            case = await repository.mark_overdue(session, case_id, now=now)
            if case is None:
                continue  # another replica reported it, or it moved meanwhile
            await events.report_overdue(outbox, session, case)
            reported += 1
    return reported


async def watch_deadlines(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    clock: Callable[[], dt.datetime],
    *,
    every_seconds: float,
) -> None:
    """Every ``every_seconds`` until cancelled: accept the intakes left undecided past their
    time, report the cases newly overdue. A failed round (the database away) is logged and the
    next one tries again."""
    while True:
        try:
            now = clock()
            accepted = await accept_undecided_intakes(sessionmaker, outbox, now=now)
            overdue = await report_overdue_cases(sessionmaker, outbox, now=now)
            if accepted or overdue:
                log.info("deadlines_watched", deemed_accepted=accepted, reported_overdue=overdue)
        except SQLAlchemyError as exc:
            log.warning("deadline_watch_failed", error_type=type(exc).__name__)
        await asyncio.sleep(every_seconds)


# --- transitions ------------------------------------------------------------------------------


async def transition_case(
    *,
    session: AsyncSession,
    outbox: Outbox,
    http: httpx.AsyncClient,
    principal: Principal,
    case_no: str,
    payload: TransitionCreate,
    if_match: str | None,
    now: dt.datetime,
    idle: dt.timedelta,
) -> CaseRead:
    """Move the case the caller read (``If-Match``): a stranger gets 404, a caller who may never
    take the action 403 whatever they send as If-Match, then the version, then the table and
    the case's own conditions."""
    case, roles = await visible_case(session=session, principal=principal, case_no=case_no)
    action = payload.action
    transition = state_machine.TRANSITIONS[action]
    role = state_machine.part_taken(action, roles)
    require_match(if_match, case_etag(case.version))
    source = CaseStatus(case.status)
    target = state_machine.next_status(
        source, action, role, decision_approval=DecisionApproval(case.decision_approval)
    )
    _check_conditions(case, principal, role, transition, payload, now=now, idle=idle)
    detail, changes = await _carried(session, http, case, transition, payload, now=now)
    await _record(
        session,
        outbox,
        case,
        _actor(principal, role),
        action.value,
        now=now,
        target=target,
        note=payload.note,
        detail=detail,
        reviewer=principal.sub if transition.reviews else None,
        changes=changes,
    )
    return await _reread(session, case, principal, roles, now=now, idle=idle)


def _check_conditions(
    case: Case,
    principal: Principal,
    role: Role,
    transition: Transition,
    payload: TransitionCreate,
    *,
    now: dt.datetime,
    idle: dt.timedelta,
) -> None:
    action = payload.action
    if transition.assignee and role is not Role.SYSTEM:
        holder = claim_holder(case, now=now, idle=idle)
        if holder != principal.sub:
            raise ClaimRequired(claimed=holder is not None)
    if transition.not_by_reviewer and case.reviewer_id == principal.sub:
        raise FourEyesRequired()
    if transition.once and any(event.action == action.value for event in case.history):
        raise AlreadyTakenOnce(action=action.value)
    if transition.reason and not (payload.note or "").strip():
        raise state_machine.ReasonRequired(action=action.value)
    given = {part for part in Part if getattr(payload, part.value) is not None}
    needed = _part_needed(case, transition)
    if needed is not None and needed not in given:
        raise PartRequired(part=needed.value)
    if given - {needed}:
        raise NotForThisAction(action=action.value, parts=sorted(given - {needed}))


def _part_needed(case: Case, transition: Transition) -> Part | None:
    """The part the step takes: the table's, but a certificate only for an item that issues
    one."""
    if transition.carries is Part.CERTIFICATE and case.issues_certificate is None:
        return None
    return transition.carries


async def _carried(
    session: AsyncSession,
    http: httpx.AsyncClient,
    case: Case,
    transition: Transition,
    payload: TransitionCreate,
    *,
    now: dt.datetime,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """What the step's part records in its history entry (names and numbers, never a value of
    the form) and changes in the case besides its status."""
    if transition.carries is Part.CERTIFICATE and payload.certificate is not None:
        certificate_type = await _issue_certificate(session, case, payload.certificate, now=now)
        return {"certificate_type": certificate_type}, {}
    if transition.carries is Part.NOTICE and payload.notice is not None:
        fields = await _noticed_fields(http, case, payload.notice.fields)
        return {"fields": fields, "materials": sorted(set(payload.notice.materials))}, {}
    if transition.carries is Part.FORM and payload.form is not None:
        notice = _last_notice(case)
        await _require_materials(session, case, notice)
        form = await _supplemented(http, case, notice, payload.form)
        supplied = {"fields": sorted(payload.form), "materials": notice.materials}
        return supplied, {"form": form}
    if transition.carries is Part.EXTENSION and payload.extension is not None:
        days = payload.extension.working_days
        return {"working_days": days}, _moved_on(case, days)
    if transition.carries is Part.SUSPENSION and payload.suspension is not None:
        return payload.suspension.model_dump(mode="json"), {}
    if transition.carries is Part.TRANSFER and payload.transfer is not None:
        target = await catalog.fetch_department(http, payload.transfer.department_id)
        if target.region_code.official != case.region_code or target.id == case.department_id:
            raise TransferRefused(region_code=case.region_code)
        return {"from": case.department_id, "to": target.id}, {
            "department_id": target.id,
            "department_name": target.name,
            "assignee_id": None,
            "claimed_at": None,
            "reviewer_id": None,
        }
    return None, {}


async def _issue_certificate(
    session: AsyncSession, case: Case, certificate: CertificateIssue, *, now: dt.datetime
) -> str:
    """The certificate the result is, written for case-svc's publisher to send to the exchange
    (``case_svc.publications``), in the step's own transaction: delivered means published
    sooner or later, never lost."""
    if case.issues_certificate is None or case.certificate_holder is None:
        raise CertificateHolderUnknown()
    await publications_repository.add(
        session,
        CertificatePublication(
            case_id=case.id,
            certificate_type=case.issues_certificate,
            certificate_number=certificate.number,
            valid_from=certificate.valid_from,
            valid_until=certificate.valid_until,
            issuing_department=case.department_id,
            holder=case.certificate_holder,
            status=publications_repository.PENDING,
            attempt_at=now,
            attempts=0,
            created_at=now,
        ),
    )
    return case.issues_certificate


async def _noticed_fields(http: httpx.AsyncClient, case: Case, fields: list[str]) -> list[str]:
    """The notice's fields, each one the item's form has and none of the applicant's identity
    (verified, never typed: a mismatch there is no supplement's to fix)."""
    item = await catalog.fetch_item(http, case.item_code)
    properties = item.form_schema.get("properties", {})
    identity = applicant.applicant_fields(item.form_schema, subject=item.subject)
    wrong = sorted({field for field in fields if field not in properties or field in identity})
    if wrong:
        raise NoticeInvalid(fields=wrong)
    return sorted(set(fields))


@dataclass(frozen=True)
class Notice:
    """The supplement notice the case is answering: what it named, and when it was given."""

    fields: list[str]
    materials: list[str]
    given_at: dt.datetime | None


def _last_notice(case: Case) -> Notice:
    for event in reversed(case.history):
        if event.action == Action.REQUEST_SUPPLEMENT.value and event.detail:
            return Notice(
                fields=event.detail.get("fields", []),
                materials=event.detail.get("materials", []),
                given_at=event.at,
            )
    return Notice(fields=[], materials=[], given_at=None)


async def _require_materials(session: AsyncSession, case: Case, notice: Notice) -> None:
    """Each material the notice named was uploaded under that name since it was given."""
    if not notice.materials:
        return
    uploaded = {
        material.name
        for material in await materials_repository.materials_of(session, case.id)
        if notice.given_at is None or material.uploaded_at >= notice.given_at
    }
    missing = sorted(set(notice.materials) - uploaded)
    if missing:
        raise MaterialsMissing(materials=missing)


async def _supplemented(
    http: httpx.AsyncClient, case: Case, notice: Notice, values: dict[str, Any]
) -> dict[str, Any]:
    """The case's form with the supplement: exactly the noticed fields, the whole form then
    valid against the item's schema."""
    noticed = set(notice.fields)
    missing, unexpected = sorted(noticed - set(values)), sorted(set(values) - noticed)
    if missing or unexpected:
        raise SupplementMismatch(missing=missing, unexpected=unexpected)
    if not values:
        return dict(case.form)
    item = await catalog.fetch_item(http, case.item_code)
    form = {**case.form, **values}
    validate_form(form, item.form_schema)
    return form


_UNCHANGED = object()


@dataclass(frozen=True)
class Actor:
    """Who takes a step, as its history entry records them."""

    id: str
    role: Role
    #: The applicant a delegate acts for.
    acting_for: str | None = None
    #: Staff: their staff number (工号), as their token carries it.
    staff_no: str | None = None


#: case-svc itself: an instant item on filing, an intake left undecided for too long.
SYSTEM = Actor(SYSTEM_ACTOR, Role.SYSTEM)


def _actor(principal: Principal, role: Role) -> Actor:
    return Actor(
        actor_of(principal),
        role,
        acting_for(principal) if role is Role.APPLICANT else None,
        principal.staff_no if role in (Role.HANDLER, Role.SUPERVISOR) else None,
    )


async def _record(
    session: AsyncSession,
    outbox: Outbox,
    case: Case,
    actor: Actor,
    action: str,
    *,
    now: dt.datetime,
    target: CaseStatus | None = None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
    reviewer: str | None = None,
    assignee: object = _UNCHANGED,
    changes: dict[str, Any] | None = None,
) -> None:
    """One step: the case updated at the version it was read (the database decides a race),
    its clock paused, resumed or stopped, and its history entry."""
    source = CaseStatus(case.status)
    status = target or source
    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    if assignee is not _UNCHANGED:
        values["assignee_id"] = assignee
        values["claimed_at"] = now if assignee is not None else None
    elif (actor.role is Role.HANDLER and case.assignee_id == actor.id) or (
        actor.role is Role.APPLICANT and case.assignee_id is not None
    ):
        # The holder's step keeps the claim from lapsing, and so does the applicant's: the
        # case is back in the holder's hands, idle from now on only if they leave it.
        values["claimed_at"] = now
    if reviewer is not None:
        values["reviewer_id"] = reviewer
    if status is CaseStatus.COMPLETED:
        values["completed_at"] = now
    if source is CaseStatus.SUBMITTED and status is CaseStatus.ACCEPTED:
        statutory = deadlines.deadline_after(
            now, case.statutory_working_days or deadlines.STATUTORY_WORKING_DAYS
        )
        values["statutory_due_at"] = statutory.due_at
    if status in _ENDED:
        values["assignee_id"] = None
        values["claimed_at"] = None
    if status is not CaseStatus.SUBMITTED:
        values["intake_due_at"] = None
    elif source is CaseStatus.SUPPLEMENT_REQUESTED:
        # Resubmitted with its supplement: the intake's time starts again.
        values["intake_due_at"] = deadlines.deadline_after(
            now, deadlines.INTAKE_WORKING_DAYS
        ).due_at
    values.update(
        _clock_change(case, state_machine.CLOCK[source], state_machine.CLOCK[status], now)
    )
    values.update(changes or {})
    new_version = await repository.update_case(
        session, case.id, expected_version=case.version, values=values
    )
    if new_version is None:  # another step won between our read and our update
        raise PreconditionFailed("the case changed while this step was taken")
    await repository.add_event(
        session,
        CaseEvent(
            case_id=case.id,
            seq=len(case.history) + 1,
            action=action,
            from_status=source.value,
            status=status.value,
            actor_id=actor.id,
            actor_role=actor.role.value,
            actor_staff_no=actor.staff_no,
            acting_for=actor.acting_for,
            clock=state_machine.CLOCK[status].value,
            note=note,
            detail=detail,
            at=now,
        ),
    )
    await events.report_step(
        outbox,
        session,
        case,
        action=action,
        from_status=source.value,
        status=status.value,
        at=now,
    )


def _clock_change(case: Case, before: Clock, after: Clock, now: dt.datetime) -> dict[str, Any]:
    """Pausing the clock remembers when; resuming moves every deadline on by the working days
    the pause took."""
    if before is Clock.RUNNING and after is Clock.PAUSED:
        return {"clock_paused_at": now}
    if before is not Clock.PAUSED or after is Clock.PAUSED or case.clock_paused_at is None:
        return {}
    paused = deadlines.working_days_between(
        deadlines.local_date(case.clock_paused_at), deadlines.local_date(now)
    )
    return {
        "clock_paused_at": None,
        "paused_working_days": case.paused_working_days + paused,
        **_moved_on(case, paused),
    }


def _moved_on(case: Case, working_days: int) -> dict[str, Any]:
    """The case's deadlines moved ``working_days`` later: the promised time (and when it turns
    yellow), and the statutory time once it runs."""
    values: dict[str, Any] = {}
    if case.due_at is not None:
        moved = deadlines.moved_on(
            deadlines.Deadline(case.due_at, case.due_at_provisional), working_days
        )
        values["due_at"] = moved.due_at
        values["due_at_provisional"] = moved.provisional
        if case.warn_at is not None:
            values["warn_at"] = case.warn_at + (moved.due_at - case.due_at)
    if case.statutory_due_at is not None:
        values["statutory_due_at"] = deadlines.moved_on(
            deadlines.Deadline(case.statutory_due_at, False), working_days
        ).due_at
    return values


async def _reread(
    session: AsyncSession,
    case: Case,
    principal: Principal,
    roles: frozenset[Role],
    *,
    now: dt.datetime,
    idle: dt.timedelta,
) -> CaseRead:
    moved = await repository.case_by_id(session, case.id)
    if moved is None:
        raise CaseNotFound()
    certificate = await certificate_of(session, moved)
    return case_view(moved, principal, roles, now=now, idle=idle, certificate=certificate)
