"""HTTP endpoint for changing one's password."""

from fastapi import APIRouter, Response, status

from identity_svc.accounts.service import AccountNotFound
from identity_svc.credentials import service
from identity_svc.credentials.schemas import PasswordChange
from identity_svc.credentials.service import WrongPassword
from identity_svc.delegations.service import DelegatedTokenRefused
from identity_svc.deps import RuntimeDep
from identity_svc.passwords import WeakPassword
from identity_svc.tokens.service import LoginThrottled
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep
from servicekit.forwarding import ClientAddressDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/identity/v1/me", tags=["credentials"])


@router.put(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(
        AccountNotFound, DelegatedTokenRefused, WrongPassword, WeakPassword, LoginThrottled
    ),
)
async def change_password(
    payload: PasswordChange,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    client_address: ClientAddressDep,
) -> Response:
    """Change your password, giving the current one. Your other sessions end; this one stays.
    A delegate acting for you cannot (``delegated_token_refused``)."""
    await service.change_password(
        session=session,
        runtime=runtime,
        principal=principal,
        current_password=payload.current_password,
        new_password=payload.new_password,
        client_address=client_address,
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
