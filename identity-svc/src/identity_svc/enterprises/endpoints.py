"""HTTP endpoints for enterprises: claim one as its legal representative, list the ones you act
for, authorise employees and end their authorisation. Tokens acting for an enterprise come from
the token endpoint (token exchange with the credit code as ``subject``)."""

import datetime as dt
import uuid

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import AccountNotFound, party_of
from identity_svc.deps import RuntimeDep
from identity_svc.enterprises import service
from identity_svc.enterprises.schemas import (
    AgentCreate,
    EnterpriseClaim,
    EnterpriseRead,
    MemberList,
    MemberRead,
    MembershipList,
    MembershipRead,
    MemberStatus,
    Role,
)
from identity_svc.enterprises.service import (
    AgentExists,
    AgentNotFound,
    DelegateCannotActForEnterprise,
    EnterpriseNotActive,
    EnterpriseNotFound,
    InvalidAgentTerm,
    InvalidEnterpriseCode,
    MemberNotFound,
    NotLegalRepresentative,
    RepresentativeRequired,
)
from identity_svc.models import Enterprise, EnterpriseMember
from identity_svc.runtime import Runtime
from servicekit.auth import InsufficientAssurance, PrincipalDep
from servicekit.credit_code import CreditCodeStr
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.problems import UpstreamUnavailable

router = APIRouter(tags=["enterprises"])


@router.post(
    "/identity/v1/enterprises",
    status_code=status.HTTP_201_CREATED,
    response_model=MembershipRead,
    responses=problem_responses(
        AccountNotFound,
        DelegateCannotActForEnterprise,
        InsufficientAssurance,
        NotLegalRepresentative,
        EnterpriseNotActive,
        InvalidEnterpriseCode,
        UpstreamUnavailable,
    ),
)
async def claim_enterprise(
    payload: EnterpriseClaim,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    runtime: RuntimeDep,
    http: HttpDep,
) -> Response:
    """Act for the enterprise as its legal representative (real name verified first). The
    market-regulation registry is asked whether it names you; it answers yes or no."""
    if claim.replay is not None:
        return claim.replay
    standing = await service.claim(
        session=session,
        runtime=runtime,
        http=http,
        principal=principal,
        credit_code=payload.credit_code,
        now=runtime.now(),
    )
    view = _membership(standing.member, standing.enterprise)
    return await claim.answer(session, status=201, body=view.model_dump(mode="json"))


@router.get(
    "/identity/v1/me/enterprises",
    response_model=MembershipList,
    responses=problem_responses(AccountNotFound, DelegateCannotActForEnterprise),
)
async def my_enterprises(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> MembershipList:
    """The enterprises you act for now, and as what."""
    rows = await service.memberships(session=session, principal=principal, now=runtime.now())
    return MembershipList(items=[_membership(member, enterprise) for member, enterprise in rows])


@router.post(
    "/identity/v1/enterprises/{credit_code}/agents",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberRead,
    responses=problem_responses(
        AccountNotFound,
        DelegateCannotActForEnterprise,
        RepresentativeRequired,
        EnterpriseNotFound,
        AgentNotFound,
        AgentExists,
        InvalidAgentTerm,
    ),
)
async def authorise_agent(
    credit_code: CreditCodeStr,
    payload: AgentCreate,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Let the citizen registered with ``agent_phone`` act for the enterprise until
    ``valid_until`` (the legal representative only)."""
    if claim.replay is not None:
        return claim.replay
    now = runtime.now()
    member = await service.authorise_agent(
        session=session,
        runtime=runtime,
        principal=principal,
        credit_code=credit_code,
        agent_phone=payload.agent_phone,
        valid_until=payload.valid_until,
        now=now,
    )
    view = await _member(session, runtime, member, now=now)
    return await claim.answer(session, status=201, body=view.model_dump(mode="json"))


@router.get(
    "/identity/v1/enterprises/{credit_code}/members",
    response_model=MemberList,
    responses=problem_responses(
        AccountNotFound, DelegateCannotActForEnterprise, RepresentativeRequired, EnterpriseNotFound
    ),
)
async def list_members(
    credit_code: CreditCodeStr, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> MemberList:
    """Everyone who acts or acted for the enterprise (the legal representative only)."""
    now = runtime.now()
    enterprise, members = await service.members(
        session=session, runtime=runtime, principal=principal, credit_code=credit_code, now=now
    )
    waiting = service.unconfirmed(members)
    return MemberList(
        enterprise=_enterprise(enterprise),
        items=[
            await _member(session, runtime, member, now=now, unconfirmed=member.id in waiting)
            for member in members
        ],
    )


@router.post(
    "/identity/v1/enterprises/{credit_code}/members/{member_id}/confirmation",
    response_model=MemberRead,
    responses=problem_responses(
        AccountNotFound,
        DelegateCannotActForEnterprise,
        RepresentativeRequired,
        EnterpriseNotFound,
        MemberNotFound,
    ),
)
async def confirm_agent(
    credit_code: CreditCodeStr,
    member_id: uuid.UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> MemberRead:
    """The legal representative confirms an employee's authorisation given by the one before
    (the registry named a new representative): it stands on them from now, until its date.
    Until confirmed, such an employee gets no enterprise token
    (``authorisation_unconfirmed``)."""
    now = runtime.now()
    member = await service.confirm_agent(
        session=session,
        runtime=runtime,
        principal=principal,
        credit_code=credit_code,
        member_id=member_id,
        now=now,
    )
    return await _member(session, runtime, member, now=now)


@router.delete(
    "/identity/v1/enterprises/{credit_code}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(
        AccountNotFound,
        DelegateCannotActForEnterprise,
        RepresentativeRequired,
        EnterpriseNotFound,
        MemberNotFound,
    ),
)
async def end_membership(
    credit_code: CreditCodeStr,
    member_id: uuid.UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """End an employee's authorisation (the legal representative), or step down (the employee);
    tokens already exchanged run out within minutes, and no new one is issued."""
    await service.end_membership(
        session=session,
        principal=principal,
        credit_code=credit_code,
        member_id=member_id,
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _enterprise(enterprise: Enterprise) -> EnterpriseRead:
    return EnterpriseRead(
        credit_code=enterprise.credit_code,
        name=enterprise.name,
        registered_region=enterprise.registered_region,
        registration_status=enterprise.registration_status,
    )


def _membership(member: EnterpriseMember, enterprise: Enterprise) -> MembershipRead:
    return MembershipRead(
        member_id=member.id,
        enterprise=_enterprise(enterprise),
        role=_role(member),
        valid_until=member.valid_until,
    )


def _role(member: EnterpriseMember) -> Role:
    # The column's check constraint allows these two only.
    return "agent" if member.role == "agent" else "legal_representative"


def _status(member: EnterpriseMember, *, now: dt.datetime, unconfirmed: bool) -> MemberStatus:
    if member.revoked_at is not None:
        return "ended"
    if member.valid_until is not None and member.valid_until <= now:
        return "expired"
    return "awaiting_confirmation" if unconfirmed else "active"


async def _member(
    session: AsyncSession,
    runtime: Runtime,
    member: EnterpriseMember,
    *,
    now: dt.datetime,
    unconfirmed: bool = False,
) -> MemberRead:
    account = await accounts.get(session, member.account_id)
    assert account is not None  # a foreign key
    return MemberRead(
        id=member.id,
        citizen=party_of(runtime, account),
        role=_role(member),
        granted_by=member.granted_by,
        valid_until=member.valid_until,
        created_at=member.created_at,
        revoked_at=member.revoked_at,
        status=_status(member, now=now, unconfirmed=unconfirmed),
    )
