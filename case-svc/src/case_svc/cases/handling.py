"""The rules of handling a case: claiming it, and moving it through the workflow table, with
the conditions the table names checked against the case (its assignee, its reviewer, what was
asked once) and its deadline clock paused and moved on. Services never commit: the request's
transaction does.
"""

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.cases import applicant, repository
from case_svc.cases.forms import validate_form
from case_svc.cases.schemas import AssigneeUpdate, CaseRead, TransitionCreate
from case_svc.cases.service import (
    CaseNotFound,
    acting_for,
    actor_of,
    case_etag,
    case_view,
    claim_holder,
    visible_case,
)
from case_svc.clients import catalog
from case_svc.models import Case, CaseEvent
from case_svc.workflow import deadlines, state_machine
from case_svc.workflow.state_machine import (
    Action,
    CaseStatus,
    Clock,
    DecisionApproval,
    Role,
    Transition,
)
from servicekit.auth import Principal
from servicekit.preconditions import PreconditionFailed, require_match
from servicekit.problems import Conflict, DomainError, Forbidden, extension_members

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


class NoticeRequired(DomainError):
    status = 422
    code = "notice_required"
    title = "A supplement request carries its notice: every field to correct, at once"


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


class NotForThisAction(DomainError):
    status = 422
    code = "not_for_this_action"
    title = "A notice belongs to request_supplement, a form to supplement: not to this action"
    members = extension_members(action={"type": "string", "examples": ["accept"]})


class NotAHandler(DomainError):
    status = 422
    code = "assignee_not_a_handler"
    title = "Only a handler of the case's department can be given it"


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
    await _record(session, case, principal, Role.HANDLER, "claim", now=now, assignee=principal.sub)
    return await _reread(session, case, principal, roles, now=now, idle=idle)


async def release_case(
    *,
    session: AsyncSession,
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
    await _record(session, case, principal, Role.HANDLER, "release", now=now, assignee=None)
    return await _reread(session, case, principal, roles, now=now, idle=idle)


async def reassign_case(
    *,
    session: AsyncSession,
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
        case,
        principal,
        Role.SUPERVISOR,
        "reassign",
        now=now,
        assignee=payload.assignee_id,
        detail={"assignee_id": payload.assignee_id},
    )
    return await _reread(session, case, principal, roles, now=now, idle=idle)


# --- transitions ------------------------------------------------------------------------------


async def transition_case(
    *,
    session: AsyncSession,
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
    _check_conditions(case, principal, action, transition, payload, now=now, idle=idle)
    detail: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    if payload.notice is not None:
        detail = {"fields": await _noticed_fields(http, case, payload.notice.fields)}
    if action is Action.SUPPLEMENT:
        form = await _supplemented(http, case, payload.form or {})
        detail = {"fields": sorted(payload.form or {})}
    await _record(
        session,
        case,
        principal,
        role,
        action.value,
        now=now,
        target=target,
        note=payload.note,
        detail=detail,
        reviewer=principal.sub if transition.reviews else None,
        form=form,
    )
    return await _reread(session, case, principal, roles, now=now, idle=idle)


def _check_conditions(
    case: Case,
    principal: Principal,
    action: Action,
    transition: Transition,
    payload: TransitionCreate,
    *,
    now: dt.datetime,
    idle: dt.timedelta,
) -> None:
    if transition.assignee:
        holder = claim_holder(case, now=now, idle=idle)
        if holder != principal.sub:
            raise ClaimRequired(claimed=holder is not None)
    if transition.not_by_reviewer and case.reviewer_id == principal.sub:
        raise FourEyesRequired()
    if transition.once and any(event.action == action.value for event in case.history):
        raise AlreadyTakenOnce(action=action.value)
    if transition.reason and not (payload.note or "").strip():
        raise state_machine.ReasonRequired(action=action.value)
    if transition.notice and payload.notice is None:
        raise NoticeRequired()
    if (payload.notice is not None and not transition.notice) or (
        payload.form is not None and action is not Action.SUPPLEMENT
    ):
        raise NotForThisAction(action=action.value)


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


async def _supplemented(
    http: httpx.AsyncClient, case: Case, values: dict[str, Any]
) -> dict[str, Any]:
    """The case's form with the supplement: exactly the noticed fields, the whole form then
    valid against the item's schema."""
    noticed = set(_last_notice(case))
    missing, unexpected = sorted(noticed - set(values)), sorted(set(values) - noticed)
    if missing or unexpected:
        raise SupplementMismatch(missing=missing, unexpected=unexpected)
    item = await catalog.fetch_item(http, case.item_code)
    form = {**case.form, **values}
    validate_form(form, item.form_schema)
    return form


def _last_notice(case: Case) -> list[str]:
    for event in reversed(case.history):
        if event.action == Action.REQUEST_SUPPLEMENT.value and event.detail:
            fields: list[str] = event.detail.get("fields", [])
            return fields
    return []


_UNCHANGED = object()


async def _record(
    session: AsyncSession,
    case: Case,
    principal: Principal,
    role: Role,
    action: str,
    *,
    now: dt.datetime,
    target: CaseStatus | None = None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
    reviewer: str | None = None,
    assignee: object = _UNCHANGED,
    form: dict[str, Any] | None = None,
) -> None:
    """One step: the case updated at the version it was read (the database decides a race),
    its clock paused, resumed or stopped, and its history entry."""
    source = CaseStatus(case.status)
    status = target or source
    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    if assignee is not _UNCHANGED:
        values["assignee_id"] = assignee
        values["claimed_at"] = now if assignee is not None else None
    elif (role is Role.HANDLER and case.assignee_id == principal.sub) or (
        role is Role.APPLICANT and case.assignee_id is not None
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
    values.update(
        _clock_change(case, state_machine.CLOCK[source], state_machine.CLOCK[status], now)
    )
    if form is not None:
        values["form"] = form
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
            actor_id=actor_of(principal) if role is not Role.SYSTEM else "system",
            actor_role=role.value,
            acting_for=acting_for(principal) if role is Role.APPLICANT else None,
            clock=state_machine.CLOCK[status].value,
            note=note,
            detail=detail,
            at=now,
        ),
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
    values: dict[str, Any] = {"clock_paused_at": None}
    if case.due_at is not None:
        moved = deadlines.moved_on(deadlines.Deadline(case.due_at, case.due_at_provisional), paused)
        values["due_at"] = moved.due_at
        values["due_at_provisional"] = moved.provisional
        if case.warn_at is not None:
            values["warn_at"] = case.warn_at + (moved.due_at - case.due_at)
    if case.statutory_due_at is not None:
        values["statutory_due_at"] = deadlines.moved_on(
            deadlines.Deadline(case.statutory_due_at, False), paused
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
    return case_view(moved, principal, roles, now=now, idle=idle)
