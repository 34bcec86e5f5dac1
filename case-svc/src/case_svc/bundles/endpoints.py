"""HTTP endpoints for one-issue applications: parse, delegate, shape."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from case_svc.bundles import drafting, service
from case_svc.bundles.drafting import BundleDraftSubmitted
from case_svc.bundles.schemas import (
    BundleApplicationCreate,
    BundleApplicationPage,
    BundleApplicationRead,
    BundleDraftCreate,
    BundleDraftRead,
    BundleDraftUpdate,
)
from case_svc.bundles.service import (
    BundleApplicationCompensated,
    BundleApplicationIncomplete,
    BundleApplicationNotFound,
    BundleChildRefused,
    NothingApplies,
)
from case_svc.cases.endpoints import SUBMISSION_PROBLEMS
from case_svc.cases.service import FiledElsewhere
from case_svc.clients import cases as cases_client
from case_svc.clients.catalog import BUNDLE_PROBLEMS
from case_svc.deps import CatalogReadsDep, NowDep, SettingsDep, StateDep
from case_svc.drafts.endpoints import OPENING_PROBLEMS as DRAFT_OPENING_PROBLEMS
from case_svc.drafts.service import DelegateNotAllowed, UnknownFormField
from servicekit.auth import PrincipalDep, WrongPrincipalType
from servicekit.case_numbers import BundleApplicationNumberStr
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import IdempotencyDep, IdempotencyKeyReused, idempotency_key
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of
from servicekit.problems import DomainError, UpstreamUnavailable

router = APIRouter(prefix="/cases/v1", tags=["bundle applications"])

PATH = "/cases/v1/bundle-applications"

#: What filing may answer besides the application: its own refusals, the catalog's about the
#: bundle, and those of each child's filing (checked here before anything is filed).
FILING_PROBLEMS: tuple[type[DomainError], ...] = tuple(
    dict.fromkeys(
        (
            NothingApplies,
            BundleChildRefused,
            BundleApplicationCompensated,
            BundleApplicationIncomplete,
            IdempotencyKeyReused,
            WrongPrincipalType,
            *BUNDLE_PROBLEMS,
            *SUBMISSION_PROBLEMS,
        )
    )
)


@router.post(
    "/bundle-applications",
    status_code=201,
    response_model=BundleApplicationRead,
    responses=problem_responses(*FILING_PROBLEMS, UpstreamUnavailable),
)
async def file_bundle_application(
    payload: BundleApplicationCreate,
    principal: PrincipalDep,
    claim: IdempotencyDep,
    session: SessionDep,
    state: StateDep,
    http: HttpDep,
    catalog_reads: CatalogReadsDep,
    settings: SettingsDep,
    now: NowDep,
    key_header: Annotated[str, Header(alias="Idempotency-Key", include_in_schema=False)],
    x_region_code: Annotated[
        str | None,
        Header(
            alias="X-Region-Code",
            description="The applicant's county: the gateway routes the application straight "
            "to the instance that keeps her applications (else it is filed there one hop later)",
        ),
    ] = None,
) -> Response:
    """File a one-issue bundle once, as one application: the items that apply to her answers
    (the catalog's plan), each filed as a child case at the department that handles it for her
    region, at its tier, in that department's instance. Every child's form is checked before
    anything is filed. A filing cut short is completed by the retry with the same
    Idempotency-Key and body (503 ``bundle_application_incomplete`` says so), or, when a
    department refuses its part, compensated: the parts filed before it are withdrawn
    (422 ``bundle_child_refused``). She is invited to rate each child as it completes."""
    if claim.replay is not None:
        return claim.replay
    key = idempotency_key(key_header)
    outcome = await service.file_application(
        sessionmaker=state.database.sessionmaker,
        http=http,
        catalog_reads=catalog_reads,
        principal=principal,
        payload=payload,
        key=key,
        digest_key=settings.request_digest_key_bytes,
        routed_by=x_region_code,
        passed_on=SUBMISSION_PROBLEMS,
        now=now,
    )
    if isinstance(outcome, FiledElsewhere):
        filed = await cases_client.file_where_it_belongs(
            http,
            token=principal.token,
            body=payload.model_dump(mode="json", exclude_unset=True),
            key_header=key_header,
            region_code=outcome.region_code,
            passed_on=FILING_PROBLEMS,
            path=PATH,
        )
        location = {"Location": filed.headers["Location"]}
        return await claim.answer(session, status=201, body=filed.json(), headers=location)
    location = {"Location": f"{PATH}/{outcome.application_no}"}
    return await claim.answer(
        session, status=201, body=outcome.model_dump(mode="json"), headers=location
    )


@router.get(
    "/bundle-applications",
    response_model=BundleApplicationPage,
    responses=problem_responses(InvalidCursor, WrongPrincipalType),
)
async def list_bundle_applications(
    principal: PrincipalDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> BundleApplicationPage:
    """The caller's one-issue applications, newest first (each one's progress is on it)."""
    return await service.applications_of(
        session,
        principal,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )


@router.get(
    "/bundle-applications/{application_no}",
    response_model=BundleApplicationRead,
    responses=problem_responses(BundleApplicationNotFound, WrongPrincipalType),
)
async def get_bundle_application(
    application_no: BundleApplicationNumberStr,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
) -> BundleApplicationRead:
    """The caller's one-issue application as one: each child with its department, its case
    and its progress, read from the case where it lives, and the application's own status
    derived from theirs."""
    return await service.application_of(session, http, principal, application_no)


# --- bundle drafts: filled in by the platform before she files ---------------------------------

DRAFTS_PATH = "/cases/v1/bundle-drafts"
#: What opening a bundle draft may answer: the catalog's about the bundle, and what opening each
#: child draft may.
OPENING_PROBLEMS: tuple[type[DomainError], ...] = tuple(
    dict.fromkeys((NothingApplies, *BUNDLE_PROBLEMS, *DRAFT_OPENING_PROBLEMS))
)
#: What reading, filling or correcting one may answer.
DRAFT_PROBLEMS = (
    WrongPrincipalType,
    DelegateNotAllowed,
    BundleApplicationNotFound,
    BundleDraftSubmitted,
    UpstreamUnavailable,
)


@router.post(
    "/bundle-drafts",
    status_code=201,
    response_model=BundleDraftRead,
    responses=problem_responses(*OPENING_PROBLEMS, UpstreamUnavailable),
)
async def open_bundle_draft(
    payload: BundleDraftCreate,
    principal: PrincipalDep,
    state: StateDep,
    http: HttpDep,
    now: NowDep,
    x_region_code: Annotated[
        str | None,
        Header(
            alias="X-Region-Code",
            description="The applicant's county: the instance that keeps her applications",
        ),
    ] = None,
) -> Response:
    """A draft of the bundle for her: a draft application of each item that applies to her
    answers, opened in its department's instance and filled there from her verified identity
    and what the registries may give, shown as one form with each value's provenance and the
    consents that would fill more (``consents_to_fill``, given at
    ``POST /exchange/v1/me/consents``). Its number is the application's once submitted."""
    opened = await drafting.open_bundle_draft(
        sessionmaker=state.database.sessionmaker,
        http=http,
        principal=principal,
        payload=payload,
        routed_by=x_region_code,
        passed_on=DRAFT_OPENING_PROBLEMS,
        now=now,
    )
    if isinstance(opened, FiledElsewhere):
        forwarded = await cases_client.file_where_it_belongs(
            http,
            token=principal.token,
            body=payload.model_dump(mode="json", exclude_unset=True),
            key_header=None,
            region_code=opened.region_code,
            passed_on=OPENING_PROBLEMS,
            path=DRAFTS_PATH,
        )
        return Response(
            forwarded.content,
            status_code=201,
            media_type="application/json",
            headers={"Location": forwarded.headers["Location"]},
        )
    return Response(
        opened.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"{DRAFTS_PATH}/{opened.application_no}"},
    )


@router.get(
    "/bundle-drafts/{bundle_draft_no}",
    response_model=BundleDraftRead,
    responses=problem_responses(*DRAFT_PROBLEMS),
)
async def read_bundle_draft(
    bundle_draft_no: BundleApplicationNumberStr,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
) -> BundleDraftRead:
    """Her bundle draft as one form, read from its children where they live."""
    return await drafting.read_bundle_draft(session, http, principal, bundle_draft_no)


@router.post(
    "/bundle-drafts/{bundle_draft_no}/prefill",
    response_model=BundleDraftRead,
    responses=problem_responses(*DRAFT_PROBLEMS),
)
async def fill_bundle_draft_again(
    bundle_draft_no: BundleApplicationNumberStr,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
) -> BundleDraftRead:
    """Every child filled again: typically once she gave the consents it listed."""
    return await drafting.fill_again(session, http, principal, bundle_draft_no)


@router.patch(
    "/bundle-drafts/{bundle_draft_no}",
    response_model=BundleDraftRead,
    responses=problem_responses(*DRAFT_PROBLEMS, UnknownFormField),
)
async def correct_bundle_draft(
    bundle_draft_no: BundleApplicationNumberStr,
    payload: BundleDraftUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    http: HttpDep,
    catalog_reads: CatalogReadsDep,
) -> BundleDraftRead:
    """Type or correct fields: each value goes to every child whose item's form has the field
    (marked typed there); a field no child's form has is refused (422 ``unknown_form_field``)
    before any child changes; her identity's fields stay locked."""
    return await drafting.correct(
        session, http, catalog_reads, principal, bundle_draft_no, payload.form
    )


@router.post(
    "/bundle-drafts/{bundle_draft_no}/submission",
    status_code=201,
    response_model=BundleApplicationRead,
    responses=problem_responses(*DRAFT_PROBLEMS, *FILING_PROBLEMS),
)
async def submit_bundle_draft(
    bundle_draft_no: BundleApplicationNumberStr,
    principal: PrincipalDep,
    claim: IdempotencyDep,
    session: SessionDep,
    state: StateDep,
    http: HttpDep,
    catalog_reads: CatalogReadsDep,
    now: NowDep,
    key_header: Annotated[str, Header(alias="Idempotency-Key", include_in_schema=False)],
) -> Response:
    """File it: each child draft becomes its case where it lives, with each field's
    provenance, as a bundle is filed (a filing cut short is completed by the retry; a part
    refused is compensated). Every child's form is checked first: one that still lacks what
    she must type refuses the submission (422) before anything is filed, and the draft stays
    open. Then it is followed at ``/cases/v1/bundle-applications``."""
    if claim.replay is not None:
        return claim.replay
    filed = await drafting.submit(
        sessionmaker=state.database.sessionmaker,
        http=http,
        catalog_reads=catalog_reads,
        principal=principal,
        application_no=bundle_draft_no,
        key=idempotency_key(key_header),
        passed_on=SUBMISSION_PROBLEMS,
        now=now,
    )
    location = {"Location": f"{PATH}/{filed.application_no}"}
    return await claim.answer(
        session, status=201, body=filed.model_dump(mode="json"), headers=location
    )
