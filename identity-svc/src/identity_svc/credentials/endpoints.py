"""HTTP endpoint for changing one's password."""

from fastapi import APIRouter, Response, status

from identity_svc.credentials import service
from identity_svc.credentials.schemas import PasswordChange
from identity_svc.runtime import RuntimeDep
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep

router = APIRouter(prefix="/identity/v1/me", tags=["credentials"])


@router.put("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    payload: PasswordChange, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Change your password, giving the current one. Your other sessions end; this one stays.
    A delegate acting for you cannot (``delegated_token_refused``)."""
    await service.change_password(
        session=session,
        runtime=runtime,
        principal=principal,
        current_password=payload.current_password,
        new_password=payload.new_password,
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
