"""HTTP endpoints of the grant workflow: parse, identify the caller, delegate."""

import uuid

from fastapi import APIRouter, Response

from data_exchange_svc.deps import ActiveGrantsDep, CatalogueDep, DepartmentCallerDep, StaffDep
from data_exchange_svc.grants import workflow
from data_exchange_svc.grants.schemas import GrantApply, GrantApprove, GrantDecisionNote, GrantRead
from data_exchange_svc.grants.workflow import (
    ConsumerUnidentified,
    FieldReserved,
    GrantNotApproved,
    GrantNotFound,
    GrantNotPending,
    InvalidExpiry,
    NotTheProvider,
    OwnApplication,
    PurposeReserved,
    RateLimitRequired,
    UnknownPurpose,
)
from data_exchange_svc.models import SharingGrant
from data_exchange_svc.resources.service import ResourceNotFound, ResourceNotShared, UnknownField
from servicekit.auth import requires_scopes
from servicekit.db import SessionDep, utcnow
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.problems import InvalidRegion, OutsideJurisdiction

router = APIRouter(prefix="/exchange/v1/grants", tags=["grants"])


def _view(grant: SharingGrant) -> GrantRead:
    return GrantRead.model_validate(grant)


@router.post(
    "",
    dependencies=[requires_scopes("exchange:grants")],
    response_model=GrantRead,
    status_code=201,
    responses=problem_responses(
        ConsumerUnidentified,
        ResourceNotFound,
        ResourceNotShared,
        UnknownField,
        FieldReserved,
        UnknownPurpose,
        PurposeReserved,
        RateLimitRequired,
    ),
)
async def apply_for_grant(
    application: GrantApply,
    principal: DepartmentCallerDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> Response:
    """A consumer department applies for purposes of the controlled list, with the rate limit
    it needs; the grant stays ``pending`` (and grants nothing) until a data steward of the
    provider approves it. Identity-grade fields (face templates, other people's identity
    numbers) are never granted this way (403 ``field_reserved``)."""
    if claim.replay is not None:
        return claim.replay
    grant = await workflow.apply(session, principal, application, catalogue=catalogue)
    view = _view(grant)
    return await claim.answer(
        session,
        status=201,
        body=view.model_dump(mode="json"),
        headers={"Location": f"/exchange/v1/grants/{view.id}"},
    )


@router.get(
    "/{grant_id}",
    dependencies=[requires_scopes("exchange:grants")],
    response_model=GrantRead,
    responses=problem_responses(GrantNotFound),
)
async def get_grant(
    grant_id: uuid.UUID, principal: DepartmentCallerDep, session: SessionDep
) -> GrantRead:
    return _view(await workflow.read(session, principal, grant_id))


@router.post(
    "/{grant_id}/approve",
    dependencies=[requires_scopes("exchange:grants")],
    response_model=GrantRead,
    responses=problem_responses(
        NotTheProvider,
        OwnApplication,
        GrantNotFound,
        GrantNotPending,
        InvalidExpiry,
        InvalidRegion,
        OutsideJurisdiction,
        RateLimitRequired,
    ),
)
async def approve_grant(
    grant_id: uuid.UUID,
    decision: GrantApprove,
    principal: StaffDep,
    session: SessionDep,
    active_grants: ActiveGrantsDep,
) -> GrantRead:
    """A data steward of the provider (not the applicant) approves until ``expires_at``, at
    the rate asked for unless ``rate_limit`` says otherwise, for the subjects of ``region``
    (the steward's own by default, or one below it)."""
    grant = await workflow.approve(
        session,
        principal,
        grant_id,
        expires_at=decision.expires_at,
        rate_limit=decision.rate_limit if "rate_limit" in decision.model_fields_set else "as_asked",
        region=decision.region,
        now=utcnow(),
        active_grants=active_grants,
    )
    return _view(grant)


@router.post(
    "/{grant_id}/refuse",
    dependencies=[requires_scopes("exchange:grants")],
    response_model=GrantRead,
    responses=problem_responses(
        NotTheProvider, OwnApplication, GrantNotFound, GrantNotPending, OutsideJurisdiction
    ),
)
async def refuse_grant(
    grant_id: uuid.UUID, decision: GrantDecisionNote, principal: StaffDep, session: SessionDep
) -> GrantRead:
    grant = await workflow.refuse(
        session, principal, grant_id, reason=decision.reason, now=utcnow()
    )
    return _view(grant)


@router.post(
    "/{grant_id}/revoke",
    dependencies=[requires_scopes("exchange:grants")],
    response_model=GrantRead,
    responses=problem_responses(
        NotTheProvider, GrantNotFound, GrantNotApproved, OutsideJurisdiction
    ),
)
async def revoke_grant(
    grant_id: uuid.UUID,
    decision: GrantDecisionNote,
    principal: DepartmentCallerDep,
    session: SessionDep,
    active_grants: ActiveGrantsDep,
) -> GrantRead:
    grant = await workflow.revoke(
        session,
        principal,
        grant_id,
        reason=decision.reason,
        now=utcnow(),
        active_grants=active_grants,
    )
    return _view(grant)
