"""The rules of cases: who may submit what, in whose name, how a case is numbered and timed,
who sees it, who moves it. Services never commit: the request's transaction does, so a refused
submission leaves nothing behind."""

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc import events
from case_svc.cases import applicant, repository
from case_svc.cases.forms import validate_form
from case_svc.cases.repository import CaseFilter as CaseFilter
from case_svc.cases.schemas import (
    CaseCreate,
    CasePage,
    CaseRead,
    CaseSummary,
    CertificatePublicationRead,
    DeadlineColour,
    FieldProvenance,
    HistoryEntry,
    IssuedCertificateRead,
    QueueCounts,
)
from case_svc.clients import catalog, identity
from case_svc.models import Case, CaseEvent, CertificatePublication
from case_svc.publications import repository as publications_repository
from case_svc.workflow import state_machine
from case_svc.workflow.deadlines import (
    INTAKE_WORKING_DAYS,
    deadline_after,
    local_date,
    warning_at,
)
from case_svc.workflow.state_machine import Action, CaseStatus, Clock, Role
from servicekit.auth import Principal, require_assurance, require_type
from servicekit.events import Outbox
from servicekit.pagination import Cursors
from servicekit.preconditions import entity_tag
from servicekit.problems import (
    DomainError,
    Forbidden,
    NotFound,
    UpstreamUnavailable,
    extension_members,
)
from servicekit.regions import InvalidRegionCode, RegionCode

SYSTEM_ACTOR = "system"
APPLICANT = frozenset({Role.APPLICANT})

#: Which kind of account may apply for which subject of item.
_SUBJECT_OF = {"citizen": "person", "enterprise": "enterprise"}


class ItemNotAvailable(DomainError):
    status = 422
    code = "item_not_available"
    title = "This service item is not open for applications"
    members = extension_members(
        item_status={
            "type": "string",
            "description": "The item's status in the catalogue",
            "examples": ["withdrawn"],
        }
    )


class WrongSubject(Forbidden):
    code = "wrong_subject"
    title = "This item is for another kind of applicant"
    members = extension_members(
        item_subject={
            "type": "string",
            "description": "Who may apply for the item",
            "examples": ["citizen"],
        },
        principal_type={
            "type": "string",
            "description": "What the caller is",
            "examples": ["enterprise"],
        },
    )


class OutsideDelegation(Forbidden):
    code = "outside_delegation"
    title = "The delegation this token carries does not cover this item"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]},
        delegated_items={
            "type": "array",
            "items": {"type": "string"},
            "description": "The item codes the delegation covers",
            "examples": [["public_security.residence_permit"]],
        },
    )


class ApplicantRegionRequired(DomainError):
    status = 422
    code = "applicant_region_required"
    title = "Name the applicant's region: the token carries none"


class CaseNotFound(NotFound):
    code = "case_not_found"
    title = "No such case of yours"


class NoDepartment(Forbidden):
    code = "no_department"
    title = "This staff account belongs to no department"


class NoCaseRole(Forbidden):
    code = "no_case_role"
    title = "Cases are handled by handlers and supervisors: this account is neither"


# --- submission -------------------------------------------------------------------------------


def applicant_region_of(principal: Principal, named: RegionCode | None) -> RegionCode:
    """The region the applicant applies in: the one she names, else her token's."""
    if named is not None:
        return named
    if principal.region:
        try:
            return RegionCode.parse(principal.region)
        except InvalidRegionCode:
            pass  # a token region we cannot read is as good as none: ask the client for it
    raise ApplicantRegionRequired()


def check_applicant(principal: Principal, item: catalog.CatalogItem) -> None:
    # A delegate's token lists the item codes it was delegated for (none listed: all items).
    if principal.act is not None and principal.scope and item.code not in principal.scope:
        raise OutsideDelegation(item_code=item.code, delegated_items=list(principal.scope))
    require_assurance(principal, item.min_loa)
    if _SUBJECT_OF.get(principal.typ) != item.subject:
        raise WrongSubject(
            f"{item.code} is for a {item.subject} applicant",
            item_subject=item.subject,
            principal_type=principal.typ,
        )


async def checked_form(
    http: httpx.AsyncClient,
    principal: Principal,
    item: catalog.CatalogItem,
    form: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The form as it would be filed for this applicant: she may apply for the item, its
    applicant fields hold her verified identity, and it meets the item's form schema. With the
    certificate holder, as ``_with_verified_applicant`` gives it."""
    check_applicant(principal, item)
    checked, holder = await _with_verified_applicant(http, principal, item, form)
    validate_form(checked, item.form_schema)
    return checked, holder


async def _with_verified_applicant(
    http: httpx.AsyncClient,
    principal: Principal,
    item: catalog.CatalogItem,
    form: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The form with its applicant fields holding the identity identity-svc verified for the
    caller's token: who applies comes from the token, never from what is typed. And, for an
    item that issues a certificate, its holder as the exchange names a subject: asked now, while
    the applicant's own token is at hand, since the certificate is published when staff deliver
    it."""
    fields = applicant.applicant_fields(item.form_schema, subject=item.subject)
    if not fields and item.issues_certificate is None:
        return dict(form), None
    # Without a verified real name there is nothing to fill them with: the app is told the step
    # before identity-svc is asked.
    require_assurance(principal, applicant.MIN_LOA)
    verified = await identity.verified_identity(http, token=principal.token)
    if verified.subject != item.subject:
        raise UpstreamUnavailable("identity-svc answered for another kind of applicant")
    holder = verified.registry_subject() if item.issues_certificate is not None else None
    if item.issues_certificate is not None and holder is None:
        raise UpstreamUnavailable("identity-svc told no identifier of the applicant")
    return applicant.with_verified_applicant(form, fields, verified), holder


@dataclass(frozen=True)
class FiledElsewhere:
    """The instance to file a case in: the one the gateway routes its department's region to."""

    region_code: str


def routed_by_region(header: str | None, department_region: RegionCode) -> bool:
    """Whether the gateway chose this instance by the department's own region: the request's
    ``X-Region-Code`` names it (the gateway routes by that header before anything else)."""
    if header is None:
        return False
    try:
        return RegionCode.parse(header) == department_region
    except InvalidRegionCode:
        return False


def actor_of(principal: Principal) -> str:
    """Who acted: the delegate when one acts for the applicant."""
    return principal.act.sub if principal.act is not None else principal.sub


def acting_for(principal: Principal) -> str | None:
    """The applicant a delegate acted for; None for anyone acting for themselves."""
    return principal.sub if principal.act is not None else None


async def submit_case(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    payload: CaseCreate,
    now: dt.datetime,
    claim_idle: dt.timedelta,
    routed_by: str | None,
    outbox: Outbox,
    catalog_reads: catalog.CatalogReads,
) -> CaseRead | FiledElsewhere:
    """File the application in the name of the verified applicant; the endpoint's
    ``Idempotency-Key`` claim makes a retry answer the same case instead of filing a second
    one. A case lives in the instance that serves its handling department's region: unless the
    gateway routed the request here by that region (``routed_by``, its ``X-Region-Code``), the
    answer is where to file it instead."""
    require_type(principal, "citizen", "enterprise")
    item = await catalog_reads.item(http, payload.item_code)
    if not item.published:
        raise ItemNotAvailable(f"{item.code} is {item.status}", item_status=item.status)
    form, holder = await checked_form(http, principal, item, payload.form)
    region = applicant_region_of(principal, payload.applicant_region)
    handler = await catalog_reads.handler(http, item.code, region)
    department_region = handler.department.region_code
    if not routed_by_region(routed_by, department_region):
        return FiledElsewhere(department_region.official)
    case = await file_case(
        session,
        principal=principal,
        form=form,
        holder=holder,
        item=item,
        handler=handler,
        region=region,
        now=now,
    )
    await events.report_filed(outbox, session, case)
    return case_view(case, principal, APPLICANT, now=now, idle=claim_idle)


async def file_case(
    session: AsyncSession,
    *,
    principal: Principal,
    form: dict[str, Any],
    holder: dict[str, str] | None,
    item: catalog.CatalogItem,
    handler: catalog.ResponsibleDepartment,
    region: RegionCode,
    now: dt.datetime,
    provenance: dict[str, Any] | None = None,
) -> Case:
    """A new case, numbered in its department's region and day, with its deadlines; the
    form's provenance when it was filed from a draft application."""
    department = handler.department
    department_region = department.region_code.official
    day = local_date(now).strftime("%Y%m%d")
    sequence = await repository.next_case_sequence(session, region_code=department_region, day=day)
    case = Case(
        case_no=f"{department_region}-{day}-{sequence:06d}",
        item_code=item.code,
        item_name=item.name,
        item_version=str(item.version),
        processing_mode=item.processing_mode,
        applicant_id=principal.sub,
        applicant_type=principal.typ,
        actor_id=principal.act.sub if principal.act is not None else None,
        applicant_region=region.official,
        department_id=department.id,
        department_name=department.name,
        region_code=department_region,
        form=form,
        form_provenance=provenance,
        status=state_machine.INITIAL_STATUS.value,
        version=1,
        submitted_at=now,
        updated_at=now,
        history=[
            CaseEvent(
                seq=1,
                action=state_machine.SUBMIT,
                from_status=None,
                status=state_machine.INITIAL_STATUS.value,
                actor_id=actor_of(principal),
                actor_role=Role.APPLICANT.value,
                acting_for=acting_for(principal),
                clock=Clock.RUNNING.value,
                at=now,
            )
        ],
        decision_approval=item.decision_approval.value,
        issues_certificate=item.issues_certificate,
        certificate_holder=holder,
        statutory_working_days=item.legal_working_days,
    )
    if item.processing_mode == "instant":
        _complete_at_once(case, now)
    else:
        working_days = (
            item.promised_working_days
            if item.promised_working_days is not None
            else item.legal_working_days
        )
        if working_days is not None:
            deadline = deadline_after(now, working_days)
            case.due_at = deadline.due_at
            case.warn_at = warning_at(now, deadline.due_at)
            case.due_at_provisional = deadline.provisional
        case.intake_due_at = deadline_after(now, INTAKE_WORKING_DAYS).due_at
    await repository.add_case(session, case)
    return case


def _complete_at_once(case: Case, now: dt.datetime) -> None:
    """An instant item needs no one's review: the system accepts and approves it on filing,
    through the same transition table as staff would."""
    status = CaseStatus(case.status)
    for action in state_machine.INSTANT_PATH:
        target = state_machine.next_status(status, action, Role.SYSTEM)
        case.history.append(
            CaseEvent(
                seq=len(case.history) + 1,
                action=action.value,
                from_status=status.value,
                status=target.value,
                actor_id=SYSTEM_ACTOR,
                actor_role=Role.SYSTEM.value,
                clock=state_machine.CLOCK[target].value,
                note="instant item: completed on submission",
                at=now,
            )
        )
        status = target
    case.status = status.value
    case.completed_at = now


# --- reading ------------------------------------------------------------------------------------


def case_etag(version: int) -> str:
    return entity_tag(version)


def delegated_items(principal: Principal) -> list[str] | None:
    """The items a delegate's token covers; None for anyone acting for themselves (or a
    delegation of every item). A delegate sees only those of the principal's cases."""
    if principal.act is not None and principal.scope:
        return list(principal.scope)
    return None


def roles_of(principal: Principal, case: Case) -> frozenset[Role] | None:
    """The caller's parts in the case (none for a department system, which reads), or None when
    the case is none of theirs to see."""
    if principal.typ == case.applicant_type and principal.sub == case.applicant_id:
        covered = delegated_items(principal)
        return APPLICANT if covered is None or case.item_code in covered else None
    if principal.dept != case.department_id:
        return None
    if principal.typ == "department_system":
        return frozenset()
    if principal.typ == "staff":
        return staff_roles(principal) or None
    return None


def staff_roles(principal: Principal) -> frozenset[Role]:
    """The parts a staff member's identity roles give them in their department's cases."""
    return frozenset(
        state_machine.STAFF_ROLES[role]
        for role in principal.roles
        if role in state_machine.STAFF_ROLES
    )


def claim_holder(case: Case, *, now: dt.datetime, idle: dt.timedelta) -> str | None:
    """Who holds the case now: its assignee, unless their claim lapsed (no step of theirs for
    ``idle`` while the case waited on them; not while its clock is paused, waiting on the
    applicant or a special procedure)."""
    if case.assignee_id is None or case.claimed_at is None or case.clock_paused_at is not None:
        return case.assignee_id
    return case.assignee_id if case.claimed_at + idle > now else None


def deadline_colour_of(case: Case, now: dt.datetime) -> DeadlineColour | None:
    """How near its promised time an open case is, as a queue's filter reads it
    (``repository.deadline_colour``): red overdue, yellow with 80 % of it gone, else green; a
    paused clock read where it paused."""
    if case.status in repository.ENDED_STATUSES or case.due_at is None:
        return None
    at = case.clock_paused_at or now
    if case.due_at < at:
        return "red"
    if case.warn_at is not None and case.warn_at <= at:
        return "yellow"
    return "green"


def actions_for(
    case: Case, principal: Principal, roles: frozenset[Role], *, holder: str | None
) -> list[Action]:
    """The transitions the caller may make now: the table's, less those the case's own
    conditions refuse them (held by another, reviewed by them, already taken once)."""
    taken = {event.action for event in case.history}
    status = CaseStatus(case.status)
    approval = state_machine.DecisionApproval(case.decision_approval)
    offered = []
    for action in state_machine.actions_available(status, roles, decision_approval=approval):
        transition = state_machine.TRANSITIONS[action]
        role = state_machine.part_taken(action, roles)
        if transition.assignee and role is not Role.SYSTEM and holder != principal.sub:
            continue
        if transition.not_by_reviewer and case.reviewer_id == principal.sub:
            continue
        if transition.once and action.value in taken:
            continue
        offered.append(action)
    return offered


async def certificate_of(session: AsyncSession, case: Case) -> CertificatePublication | None:
    """The certificate the case issued, if its item issues one and it was delivered."""
    if case.issues_certificate is None:
        return None
    return await publications_repository.of_case(session, case.id)


def _certificate_view(publication: CertificatePublication) -> IssuedCertificateRead:
    return IssuedCertificateRead(
        type=publication.certificate_type,
        number=publication.certificate_number,
        valid_from=publication.valid_from,
        valid_until=publication.valid_until,
        issuing_department=publication.issuing_department,
        publication=CertificatePublicationRead.model_validate(
            {
                "status": publication.status,
                "attempts": publication.attempts,
                "published_at": publication.published_at,
                "call_id": publication.call_id,
                "receipt": publication.receipt,
                "refusal_code": publication.refusal_code,
            }
        ),
    )


def case_view(
    case: Case,
    principal: Principal,
    roles: frozenset[Role],
    *,
    now: dt.datetime,
    idle: dt.timedelta,
    certificate: CertificatePublication | None = None,
) -> CaseRead:
    """The case as the caller may see it: the applicant sees staff by their part only."""
    status = CaseStatus(case.status)
    staff_view = Role.APPLICANT not in roles
    holder = claim_holder(case, now=now, idle=idle)
    return CaseRead(
        case_no=case.case_no,
        status=status,
        item_code=case.item_code,
        item_name=case.item_name,
        item_version=case.item_version,
        processing_mode=case.processing_mode,
        applicant_id=case.applicant_id,
        applicant_type=case.applicant_type,
        actor_id=case.actor_id,
        department_id=case.department_id,
        department_name=case.department_name,
        region_code=case.region_code,
        applicant_region=case.applicant_region,
        form=case.form,
        submitted_at=case.submitted_at,
        updated_at=case.updated_at,
        completed_at=case.completed_at,
        due_at=case.due_at,
        warn_at=case.warn_at,
        statutory_due_at=case.statutory_due_at,
        due_at_provisional=case.due_at_provisional,
        assignee_id=holder if staff_view else None,
        deadline_colour=deadline_colour_of(case, now),
        decision_approval=state_machine.DecisionApproval(case.decision_approval),
        issues_certificate=case.issues_certificate,
        certificate=_certificate_view(certificate) if certificate is not None else None,
        clock=state_machine.CLOCK[status] if case.clock_paused_at is None else Clock.PAUSED,
        form_provenance=(
            {name: FieldProvenance.model_validate(entry) for name, entry in provenance.items()}
            if (provenance := case.form_provenance) is not None
            else None
        ),
        version=case.version,
        history=[
            HistoryEntry(
                status=CaseStatus(event.status),
                action=event.action,
                at=event.at,
                actor=(
                    event.actor_id
                    if staff_view or event.actor_role in (Role.APPLICANT, Role.SYSTEM)
                    else None
                ),
                actor_role=Role(event.actor_role),
                staff_no=event.actor_staff_no,
                acting_for=event.acting_for,
                clock=Clock(event.clock),
                note=event.note,
                detail=event.detail if staff_view or event.action != "reassign" else None,
            )
            for event in case.history
        ],
        available_actions=actions_for(case, principal, roles, holder=holder),
    )


async def visible_case(
    *, session: AsyncSession, principal: Principal, case_no: str
) -> tuple[Case, frozenset[Role]]:
    """The case and the caller's parts in it; someone else's case is as absent as a missing
    one."""
    case = await repository.case_by_number(session, case_no)
    roles = roles_of(principal, case) if case is not None else None
    if case is None or roles is None:
        raise CaseNotFound()
    return case, roles


def _list_context(scope: dict[str, str], *, by_due: bool) -> str:
    """A cursor holds for the one list it was given for: this department's or this
    applicant's, in this order."""
    ((owner, value),) = scope.items()
    return f"cases:{owner}:{value}:{'due' if by_due else 'newest'}"


def _queue_scope(principal: Principal) -> str:
    """The department whose queue the caller reads: a handler's, a supervisor's or a system's."""
    if not principal.dept:
        raise NoDepartment()
    if principal.typ == "staff" and not staff_roles(principal):
        raise NoCaseRole()
    return principal.dept


async def list_cases(
    *,
    session: AsyncSession,
    principal: Principal,
    narrowed: CaseFilter,
    by_due: bool,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
    now: dt.datetime,
    idle: dt.timedelta,
) -> CasePage:
    """The caller's own cases, or for the department's handlers, supervisors and systems its
    queue: narrowed by status, item, holder and deadline colour; newest first, or the most
    urgent first."""
    require_type(principal, "citizen", "enterprise", "staff", "department_system")
    scope: dict[str, str] = {}
    if principal.typ in ("staff", "department_system"):
        scope["department_id"] = _queue_scope(principal)
    else:
        scope["applicant_id"] = principal.sub
    context = _list_context(scope, by_due=by_due)
    position = cursors.decode_optional(context, cursor)
    after: tuple[dt.datetime | None, uuid.UUID] | None = None
    if position is not None:
        at = position["at"]
        after = (dt.datetime.fromisoformat(at) if at else None, uuid.UUID(hex=position["id"]))
    rows = await repository.list_cases(
        session,
        **scope,
        item_codes=delegated_items(principal) if "applicant_id" in scope else None,
        narrowed=narrowed,
        view=repository.QueueView(now=now, idle=idle, staff_id=principal.sub),
        by_due=by_due,
        after=after,
        limit=limit,
    )
    page, more = rows[:limit], len(rows) > limit
    staff_view = "department_id" in scope
    items = [
        CaseSummary.model_validate(
            {
                **_summary_fields(case),
                "assignee_id": claim_holder(case, now=now, idle=idle) if staff_view else None,
                "deadline_colour": colour,
            }
        )
        for case, colour in page
    ]
    next_cursor = None
    if more:
        last = page[-1][0]
        sort_key = last.due_at if by_due else last.submitted_at
        next_cursor = cursors.encode(
            context, {"at": sort_key.isoformat() if sort_key else "", "id": last.id.hex}
        )
    return CasePage(items=items, next_cursor=next_cursor)


def _summary_fields(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in CaseSummary.model_fields if hasattr(case, name)}


async def queue_counts(
    *, session: AsyncSession, principal: Principal, now: dt.datetime, idle: dt.timedelta
) -> QueueCounts:
    """The department's open cases, counted as the queue's filters count them."""
    require_type(principal, "staff", "department_system")
    department = _queue_scope(principal)
    view = repository.QueueView(now=now, idle=idle, staff_id=principal.sub)
    rows = await repository.queue_counts(session, department_id=department, view=view)
    by_status: Counter[str] = Counter()
    by_colour: Counter[str] = Counter()
    mine = unassigned = 0
    for status, colour, held_by_caller, free, count in rows:
        by_status[status] += count
        if colour is not None:
            by_colour[colour] += count
        mine += count if held_by_caller else 0
        unassigned += count if free else 0
    return QueueCounts.model_validate(
        {
            "open": sum(by_status.values()),
            "by_status": dict(by_status),
            "by_deadline_colour": {
                colour: by_colour[colour] for colour in ("green", "yellow", "red")
            },
            "mine": mine,
            "unassigned": unassigned,
        }
    )
