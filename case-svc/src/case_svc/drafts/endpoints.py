"""HTTP endpoints for draft applications: parse, authorise, delegate."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from case_svc.cases.applicant import ApplicantMismatch
from case_svc.cases.endpoints import SUBMISSION_PROBLEMS
from case_svc.cases.forms import FormInvalid, FormSchemaUnusable
from case_svc.cases.schemas import CaseRead
from case_svc.cases.service import (
    ApplicantRegionRequired,
    FiledElsewhere,
    ItemNotAvailable,
    OutsideDelegation,
    WrongSubject,
    case_etag,
)
from case_svc.clients import cases as cases_client
from case_svc.clients.catalog import (
    ItemNotFound,
    ItemNotOfferedInRegion,
    NoResponsibleDepartment,
    RegionNotFound,
)
from case_svc.deps import CatalogReadsDep, NowDep, OutboxDep, ServiceTokenDep, SettingsDep
from case_svc.drafts import service
from case_svc.drafts.schemas import DraftCreate, DraftFormUpdate, DraftRead
from case_svc.drafts.service import (
    DelegateNotAllowed,
    DraftFiled,
    DraftNotFound,
    HandlingDepartmentChanged,
    IdentityFieldLocked,
    UnknownFormField,
)
from servicekit.auth import (
    InsufficientAssurance,
    PrincipalDep,
    TokenExpired,
    TokenRevoked,
    WrongPrincipalType,
)
from servicekit.case_numbers import DraftNumberStr
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import IdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.problems import InvalidRegion, UpstreamUnavailable

router = APIRouter(prefix="/cases/v1", tags=["drafts"])

#: The problems of opening a draft: what this instance, or the one it opens it in, answers.
OPENING_PROBLEMS = (
    WrongPrincipalType,
    DelegateNotAllowed,
    InsufficientAssurance,
    OutsideDelegation,
    WrongSubject,
    ItemNotFound,
    NoResponsibleDepartment,
    RegionNotFound,
    InvalidRegion,
    ApplicantRegionRequired,
    ItemNotAvailable,
    ItemNotOfferedInRegion,
    FormSchemaUnusable,
    TokenRevoked,
    TokenExpired,
)


def _draft_headers(draft: DraftRead) -> dict[str, str]:
    return {"Location": f"/cases/v1/drafts/{draft.draft_no}"}


@router.post(
    "/drafts",
    status_code=201,
    response_model=DraftRead,
    responses=problem_responses(*OPENING_PROBLEMS, UpstreamUnavailable),
)
async def open_draft(
    payload: DraftCreate,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
    now: NowDep,
    catalog_reads: CatalogReadsDep,
    service_token: ServiceTokenDep,
    x_region_code: Annotated[
        str | None,
        Header(
            alias="X-Region-Code",
            description="The handling department's region: the gateway routes the draft "
            "straight to the instance that will keep it and its case. Without it, it is opened "
            "there all the same, one hop later",
        ),
    ] = None,
) -> Response:
    """Open a draft application of hers (a citizen's, real-name verified at least, and at the
    item's level), its form filled in as far as the platform can: her identity's fields
    (``x-applicant``) from her verified identity, locked; each field bound to a data resource
    (``x-prefill``) read through the exchange, if she consented to the draft for it (each
    value with its provenance). ``consents_to_fill`` lists the consents that would fill the
    rest: given (``POST /exchange/v1/me/consents`` naming the draft as the case), ``POST
    .../prefill`` fills them."""
    outcome = await service.open_draft(
        session=session,
        http=http,
        principal=principal,
        payload=payload,
        now=now,
        routed_by=x_region_code,
        catalog_reads=catalog_reads,
        service_token=service_token,
    )
    if isinstance(outcome, FiledElsewhere):
        opened = await cases_client.file_where_it_belongs(
            http,
            token=principal.token,
            body=payload.model_dump(mode="json", exclude_unset=True),
            key_header=None,
            region_code=outcome.region_code,
            passed_on=OPENING_PROBLEMS,
            path="/cases/v1/drafts",
        )
        return Response(
            opened.content,
            status_code=201,
            media_type="application/json",
            headers={"Location": opened.headers["Location"]},
        )
    return Response(
        outcome.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers=_draft_headers(outcome),
    )


@router.get(
    "/drafts/{draft_no}",
    response_model=DraftRead,
    responses=problem_responses(DelegateNotAllowed, DraftNotFound, UpstreamUnavailable),
)
async def read_draft(
    draft_no: DraftNumberStr,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
    catalog_reads: CatalogReadsDep,
) -> DraftRead:
    """Her draft: the item's form, the values filled in so far with each one's provenance, and
    the consents that would fill more. Only she sees it (the exchange asks for it with her
    token when she consents: its status is ``draft`` while she may still submit it)."""
    return await service.read_draft(
        session=session,
        http=http,
        principal=principal,
        draft_no=draft_no,
        catalog_reads=catalog_reads,
    )


@router.post(
    "/drafts/{draft_no}/prefill",
    response_model=DraftRead,
    responses=problem_responses(
        WrongPrincipalType,
        DelegateNotAllowed,
        InsufficientAssurance,
        DraftNotFound,
        DraftFiled,
        FormSchemaUnusable,
        UpstreamUnavailable,
    ),
)
async def fill_draft_again(
    draft_no: DraftNumberStr,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
    now: NowDep,
    catalog_reads: CatalogReadsDep,
    service_token: ServiceTokenDep,
) -> DraftRead:
    """Fill what the platform can now, typically once she gave a consent ``consents_to_fill``
    listed; values she typed stay hers. Repeating it reads only what is still unfilled."""
    return await service.fill_again(
        session=session,
        http=http,
        principal=principal,
        draft_no=draft_no,
        now=now,
        catalog_reads=catalog_reads,
        service_token=service_token,
    )


@router.patch(
    "/drafts/{draft_no}",
    response_model=DraftRead,
    responses=problem_responses(
        DelegateNotAllowed,
        DraftNotFound,
        DraftFiled,
        IdentityFieldLocked,
        UnknownFormField,
        UpstreamUnavailable,
    ),
)
async def correct_draft(
    draft_no: DraftNumberStr,
    payload: DraftFormUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
    now: NowDep,
    catalog_reads: CatalogReadsDep,
) -> DraftRead:
    """Type or correct fields of her draft (null clears one): each is then marked ``typed``.
    Her identity's fields are locked to her verified identity (422
    ``identity_field_locked``)."""
    return await service.correct(
        session=session,
        http=http,
        principal=principal,
        draft_no=draft_no,
        values=payload.form,
        now=now,
        catalog_reads=catalog_reads,
    )


@router.post(
    "/drafts/{draft_no}/submission",
    status_code=201,
    response_model=CaseRead,
    responses=problem_responses(
        *SUBMISSION_PROBLEMS,
        WrongPrincipalType,
        DelegateNotAllowed,
        DraftNotFound,
        DraftFiled,
        HandlingDepartmentChanged,
        ApplicantMismatch,
        FormInvalid,
        UpstreamUnavailable,
    ),
)
async def submit_draft(
    draft_no: DraftNumberStr,
    principal: PrincipalDep,
    claim: IdempotencyDep,
    session: SessionDep,
    http: HttpDep,
    now: NowDep,
    outbox: OutboxDep,
    settings: SettingsDep,
    catalog_reads: CatalogReadsDep,
) -> Response:
    """Submit her draft: it becomes her case, filed in the draft's instance (its department's
    region), its form checked as any application's, and each field's provenance kept with the
    case (its view shows it). A retry with the same Idempotency-Key answers the same case; a
    draft already submitted is 409 ``draft_filed`` naming its case."""
    if claim.replay is not None:
        return claim.replay
    case = await service.submit_draft(
        session=session,
        http=http,
        principal=principal,
        draft_no=draft_no,
        now=now,
        claim_idle=settings.claim_idle,
        outbox=outbox,
        catalog_reads=catalog_reads,
    )
    return await claim.answer(
        session,
        status=201,
        body=case.model_dump(mode="json"),
        headers={"ETag": case_etag(case.version), "Location": f"/cases/v1/cases/{case.case_no}"},
    )
