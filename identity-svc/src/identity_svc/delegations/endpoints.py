"""HTTP endpoints for delegations: grant, list (given and received), revoke."""

import datetime as dt
import uuid

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import AccountNotFound, party_of
from identity_svc.delegations import service
from identity_svc.delegations.schemas import (
    DelegateRead,
    DelegationCreate,
    DelegationList,
    DelegationRead,
)
from identity_svc.delegations.service import (
    CannotDelegateToSelf,
    DelegateCannotDelegate,
    DelegatedTokenRefused,
    DelegationExists,
    DelegationNotFound,
    InvalidValidUntil,
)
from identity_svc.deps import RuntimeDep
from identity_svc.models import Delegation
from identity_svc.personal_data import mask_phone
from identity_svc.runtime import Runtime
from servicekit.auth import InsufficientAssurance, PrincipalDep
from servicekit.db import SessionDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/identity/v1/me/delegations", tags=["delegations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DelegationRead,
    responses=problem_responses(
        AccountNotFound,
        DelegateCannotDelegate,
        InsufficientAssurance,
        DelegationExists,
        CannotDelegateToSelf,
        InvalidValidUntil,
    ),
)
async def grant_delegation(
    payload: DelegationCreate,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Let the citizen with the phone ``delegate_phone`` act for you (level 2 needed), for
    every service or the listed ``item_codes``, until ``valid_until``. The delegation is the
    phone's: answered alike whether or not it has an account yet, and received by the account
    that holds it, now or once registered. The delegate then exchanges their own access token
    for one acting for you (``POST /identity/v1/token``,
    ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``)."""
    if claim.replay is not None:
        return claim.replay
    now = runtime.now()
    delegation = await service.grant(
        session=session,
        runtime=runtime,
        principal=principal,
        delegate_phone=payload.delegate_phone,
        item_codes=payload.item_codes,
        valid_until=payload.valid_until,
        now=now,
    )
    view = await _view(session, runtime, delegation, now=now)
    return await claim.answer(session, status=201, body=view.model_dump(mode="json"))


@router.get(
    "",
    response_model=DelegationList,
    responses=problem_responses(AccountNotFound, DelegatedTokenRefused),
)
async def list_delegations(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> DelegationList:
    """The delegations you gave and those given to your phone (before you registered it too),
    newest first, with their status."""
    now = runtime.now()
    given, received = await service.of_holder(session=session, principal=principal)
    return DelegationList(
        given=[await _view(session, runtime, d, now=now) for d in given],
        received=[await _view(session, runtime, d, now=now) for d in received],
    )


@router.delete(
    "/{delegation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AccountNotFound, DelegatedTokenRefused, DelegationNotFound),
)
async def revoke_delegation(
    delegation_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Revoke a delegation you gave or received; tokens already exchanged run out within
    minutes, and no new one is issued."""
    await service.revoke(
        session=session, principal=principal, delegation_id=delegation_id, now=runtime.now()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _view(
    session: AsyncSession, runtime: Runtime, delegation: Delegation, *, now: dt.datetime
) -> DelegationRead:
    principal = await accounts.get(session, delegation.principal_id)
    assert principal is not None  # a foreign key
    delegate_phone = runtime.personal_data.unseal(
        "delegate_phone", delegation.delegate_phone_sealed, account_id=delegation.principal_id
    )
    return DelegationRead(
        id=delegation.id,
        principal=party_of(runtime, principal),
        delegate=DelegateRead(phone_masked=mask_phone(delegate_phone)),
        item_codes=delegation.item_codes,
        valid_until=delegation.valid_until,
        created_at=delegation.created_at,
        revoked_at=delegation.revoked_at,
        status=service.status_of(delegation, now=now),
    )
