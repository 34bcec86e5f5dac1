"""HTTP endpoints for a citizen's sessions: list them, end one."""

import uuid

from fastapi import APIRouter, Response, status

from identity_svc.accounts.service import AccountNotFound
from identity_svc.delegations.service import DelegatedTokenRefused
from identity_svc.deps import RuntimeDep
from identity_svc.sessions import service
from identity_svc.sessions.schemas import SessionList, SessionRead
from identity_svc.sessions.service import SessionNotFound
from identity_svc.tokens.service import session_id_of
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/identity/v1/me/sessions", tags=["sessions"])


@router.get(
    "",
    response_model=SessionList,
    responses=problem_responses(AccountNotFound, DelegatedTokenRefused),
)
async def list_sessions(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> SessionList:
    """Your sessions still in force, most recently used first: when each began and was last
    used, from which device (``User-Agent``) and address. ``current`` marks this one."""
    found = await service.live_sessions(session=session, principal=principal, now=runtime.now())
    current = session_id_of(principal)
    return SessionList(
        sessions=[
            SessionRead(
                id=s.id,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                expires_at=s.expires_at,
                user_agent=s.user_agent,
                client_address=s.client_address,
                current=s.id == current,
                client_id=s.client_id,
            )
            for s in found
        ]
    )


@router.delete(
    "/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AccountNotFound, DelegatedTokenRefused, SessionNotFound),
)
async def end_session(
    session_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """End one of your sessions: its refresh tokens stop working at once, its access tokens
    within seconds (the revocation list)."""
    await service.end_session(
        session=session,
        runtime=runtime,
        principal=principal,
        session_id=session_id,
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
