"""HTTP endpoints for cases: parse, authorise, delegate."""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from case_svc.cases import handling, service
from case_svc.cases.applicant import ApplicantMismatch
from case_svc.cases.forms import FormInvalid, FormSchemaUnusable
from case_svc.cases.handling import (
    AlreadyTakenOnce,
    CaseEnded,
    CertificateHolderUnknown,
    ClaimedByAnother,
    ClaimRequired,
    FourEyesRequired,
    MaterialsMissing,
    NotForThisAction,
    NoticeInvalid,
    NotTheAssignee,
    PartRequired,
    SupplementMismatch,
    TransferRefused,
)
from case_svc.cases.schemas import (
    AssigneeUpdate,
    CaseCreate,
    CasePage,
    CaseRead,
    DeadlineColour,
    QueueCounts,
    TransitionCreate,
)
from case_svc.cases.service import (
    ApplicantRegionRequired,
    CaseNotFound,
    ItemNotAvailable,
    NoCaseRole,
    NoDepartment,
    OutsideDelegation,
    WrongSubject,
)
from case_svc.clients import cases as cases_client
from case_svc.clients.catalog import (
    ItemNotFound,
    ItemNotOfferedInRegion,
    NoResponsibleDepartment,
    RegionNotFound,
)
from case_svc.deps import CatalogReadsDep, NowDep, OutboxDep, SettingsDep
from case_svc.workflow.state_machine import (
    CaseStatus,
    DecisionTakesAnother,
    NotYourTransition,
    ReasonRequired,
    TransitionNotAllowed,
)
from servicekit.auth import (
    InsufficientAssurance,
    PrincipalDep,
    TokenExpired,
    TokenRevoked,
    requires_scopes,
)
from servicekit.case_numbers import CaseNumberStr
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import IdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of
from servicekit.preconditions import IfMatchHeader, PreconditionFailed, PreconditionRequired
from servicekit.problems import InvalidRegion, UpstreamUnavailable

router = APIRouter(prefix="/cases/v1", tags=["cases"])


def _case_headers(case: CaseRead) -> dict[str, str]:
    return {
        "ETag": service.case_etag(case.version),
        "Location": f"/cases/v1/cases/{case.case_no}",
    }


#: The problems of a submission: what this instance, or the one it files the case in, answers.
SUBMISSION_PROBLEMS = (
    InsufficientAssurance,
    OutsideDelegation,
    WrongSubject,
    ItemNotFound,
    NoResponsibleDepartment,
    RegionNotFound,
    InvalidRegion,
    ApplicantRegionRequired,
    ApplicantMismatch,
    FormInvalid,
    ItemNotAvailable,
    ItemNotOfferedInRegion,
    FormSchemaUnusable,
    TokenRevoked,
    TokenExpired,
)


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseRead,
    responses=problem_responses(*SUBMISSION_PROBLEMS, UpstreamUnavailable),
)
async def submit_case(
    payload: CaseCreate,
    outbox: OutboxDep,
    catalog_reads: CatalogReadsDep,
    principal: PrincipalDep,
    claim: IdempotencyDep,
    session: SessionDep,
    http: HttpDep,
    now: NowDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", include_in_schema=False)],
    x_region_code: Annotated[
        str | None,
        Header(
            alias="X-Region-Code",
            description="The handling department's region (the catalog's handler of the item "
            "for the applicant's region names it): the gateway routes the application straight "
            "to the instance that keeps its cases. Without it, or naming another region, the "
            "application is filed there all the same, one hop later",
        ),
    ] = None,
) -> Response:
    """File an application for a service item. The form's fields of the applicant's identity
    (marked ``x-applicant`` in the item's form schema: name and ID number, an enterprise's
    credit code and name) are the verified identity of the token's subject (the principal's
    when a delegate files): left out, they are filled in; typed otherwise, the form is refused
    (422 ``applicant_mismatch``, naming the fields). A retry with the same Idempotency-Key and
    body answers the same case (with ``Idempotency-Replayed: true``) and files nothing new."""
    if claim.replay is not None:
        return claim.replay
    outcome = await service.submit_case(
        session=session,
        http=http,
        principal=principal,
        payload=payload,
        now=now,
        claim_idle=settings.claim_idle,
        routed_by=x_region_code,
        outbox=outbox,
        catalog_reads=catalog_reads,
    )
    if isinstance(outcome, service.FiledElsewhere):
        filed = await cases_client.file_where_it_belongs(
            http,
            token=principal.token,
            body=payload.model_dump(mode="json", exclude_unset=True),
            key_header=idempotency_key,
            region_code=outcome.region_code,
            passed_on=SUBMISSION_PROBLEMS,
        )
        headers = {name: filed.headers[name] for name in ("ETag", "Location")}
        return await claim.answer(session, status=201, body=filed.json(), headers=headers)
    return await claim.answer(
        session, status=201, body=outcome.model_dump(mode="json"), headers=_case_headers(outcome)
    )


@router.get(
    "/cases",
    dependencies=[requires_scopes("cases:read")],
    response_model=CasePage,
    responses=problem_responses(InvalidCursor, NoDepartment, NoCaseRole),
)
async def list_cases(
    principal: PrincipalDep,
    cursors: CursorsDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    statuses: Annotated[
        list[CaseStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    item_code: Annotated[
        str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="One item")
    ] = None,
    assignee: Annotated[
        Literal["me", "unassigned"] | None,
        Query(description="Held by the caller, or by no one (a lapsed claim is no one's)"),
    ] = None,
    deadline_colour: Annotated[
        DeadlineColour | None,
        Query(description="red: overdue; yellow: 80 % of the promised time gone; green"),
    ] = None,
    order: Annotated[
        Literal["newest", "due"],
        Query(
            description="newest first, or due: the open cases, the most urgent first and "
            "undated last (an ended case has no urgency)"
        ),
    ] = "newest",
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> CasePage:
    """The caller's own cases; for the department's handlers, supervisors and systems, its
    work queue."""
    return await service.list_cases(
        session=session,
        principal=principal,
        narrowed=service.CaseFilter(
            statuses=[status.value for status in statuses or []],
            item_code=item_code,
            assignee=assignee,
            deadline_colour=deadline_colour,
        ),
        by_due=order == "due",
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
        now=now,
        idle=settings.claim_idle,
    )


@router.get(
    "/queue",
    dependencies=[requires_scopes("cases:read")],
    response_model=QueueCounts,
    responses=problem_responses(NoDepartment, NoCaseRole),
)
async def queue_counts(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> QueueCounts:
    """The department's open cases counted as its queue's filters count them: by status, by
    deadline colour, held by the caller, held by no one."""
    return await service.queue_counts(
        session=session, principal=principal, now=now, idle=settings.claim_idle
    )


@router.get(
    "/cases/{case_no}",
    dependencies=[requires_scopes("cases:read")],
    response_model=CaseRead,
    responses=problem_responses(CaseNotFound),
)
async def get_case(
    case_no: CaseNumberStr,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
) -> CaseRead:
    """One case with its history, for its applicant or the handling department's handlers,
    supervisors and systems. The applicant sees staff by their part, not their account."""
    case, roles = await service.visible_case(session=session, principal=principal, case_no=case_no)
    certificate = await service.certificate_of(session, case)
    view = service.case_view(
        case, principal, roles, now=now, idle=settings.claim_idle, certificate=certificate
    )
    response.headers.update(_case_headers(view))
    return view


_GUARDS = (CaseNotFound, PreconditionRequired, PreconditionFailed)


@router.post(
    "/cases/{case_no}/transitions",
    dependencies=[requires_scopes("cases:write")],
    response_model=CaseRead,
    responses=problem_responses(
        NotYourTransition,
        TransitionNotAllowed,
        DecisionTakesAnother,
        ClaimRequired,
        FourEyesRequired,
        AlreadyTakenOnce,
        ReasonRequired,
        PartRequired,
        TransferRefused,
        NoticeInvalid,
        SupplementMismatch,
        MaterialsMissing,
        NotForThisAction,
        CertificateHolderUnknown,
        FormInvalid,
        UpstreamUnavailable,
        *_GUARDS,
    ),
)
async def transition_case(
    case_no: CaseNumberStr,
    payload: TransitionCreate,
    outbox: OutboxDep,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CaseRead:
    """Take a step of the workflow (``workflow.toml``) on the version of the case you read.
    A handler claims a case before acting on it; a supervisor confirms or sends back a decision
    proposed on an item decided by two people, and never one they reviewed; the applicant
    supplies what the one-time supplement notice named, and withdraws before the decision. The
    result of an item that issues a certificate (``issues_certificate``) is delivered with it:
    its number and validity, which case-svc then publishes to the exchange's certificate library
    (the case's ``certificate`` shows the publication, pending until the exchange holds it)."""
    view = await handling.transition_case(
        session=session,
        outbox=outbox,
        http=http,
        principal=principal,
        case_no=case_no,
        payload=payload,
        if_match=if_match,
        now=now,
        idle=settings.claim_idle,
    )
    response.headers.update(_case_headers(view))
    return view


@router.post(
    "/cases/{case_no}/claim",
    dependencies=[requires_scopes("cases:write")],
    response_model=CaseRead,
    responses=problem_responses(NotYourTransition, ClaimedByAnother, CaseEnded, *_GUARDS),
)
async def claim_case(
    case_no: CaseNumberStr,
    outbox: OutboxDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CaseRead:
    """A handler of the department takes the case: only they act on it until they release it,
    a supervisor reassigns it, or it lies idle for ``CASE_CLAIM_IDLE_MINUTES``."""
    view = await handling.claim_case(
        session=session,
        outbox=outbox,
        principal=principal,
        case_no=case_no,
        if_match=if_match,
        now=now,
        idle=settings.claim_idle,
    )
    response.headers.update(_case_headers(view))
    return view


@router.delete(
    "/cases/{case_no}/claim",
    dependencies=[requires_scopes("cases:write")],
    response_model=CaseRead,
    responses=problem_responses(NotYourTransition, NotTheAssignee, *_GUARDS),
)
async def release_case(
    case_no: CaseNumberStr,
    outbox: OutboxDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CaseRead:
    """The handler holding the case gives it back to the department's queue."""
    view = await handling.release_case(
        session=session,
        outbox=outbox,
        principal=principal,
        case_no=case_no,
        if_match=if_match,
        now=now,
        idle=settings.claim_idle,
    )
    response.headers.update(_case_headers(view))
    return view


@router.put(
    "/cases/{case_no}/assignee",
    dependencies=[requires_scopes("cases:write")],
    response_model=CaseRead,
    responses=problem_responses(NotYourTransition, CaseEnded, *_GUARDS),
)
async def reassign_case(
    case_no: CaseNumberStr,
    payload: AssigneeUpdate,
    outbox: OutboxDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CaseRead:
    """A supervisor of the department gives the case to a handler, or back to the queue
    (``null``)."""
    view = await handling.reassign_case(
        session=session,
        outbox=outbox,
        principal=principal,
        case_no=case_no,
        payload=payload,
        if_match=if_match,
        now=now,
        idle=settings.claim_idle,
    )
    response.headers.update(_case_headers(view))
    return view
