"""HTTP endpoints for OAuth clients: register, list, rotate the secret, disable."""

from fastapi import APIRouter, Response, status

from identity_svc.accounts.service import AccountNotFound
from identity_svc.deps import RuntimeDep, SettingsDep
from identity_svc.models import OAuthClient
from identity_svc.oauth_clients import service
from identity_svc.oauth_clients.schemas import (
    ClientCreate,
    ClientList,
    ClientRead,
    ClientWithSecret,
)
from identity_svc.oauth_clients.service import (
    ClientExists,
    ClientIdOutsideNamespace,
    ClientNotFound,
    UnknownScope,
)
from identity_svc.staff.service import DepartmentRequired, OtherDepartment, StaffAdminRequired
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import (
    CursorQuery,
    CursorsDep,
    InvalidCursor,
    LimitQuery,
    page_size_of,
)

router = APIRouter(prefix="/identity/v1/clients", tags=["oauth clients"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientWithSecret,
    responses=problem_responses(
        AccountNotFound,
        StaffAdminRequired,
        OtherDepartment,
        DepartmentRequired,
        ClientExists,
        ClientIdOutsideNamespace,
        UnknownScope,
    ),
)
async def register_client(
    payload: ClientCreate, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ClientWithSecret:
    """Register a department system (a ``department_admin`` for their department, or a
    ``platform_admin``) or an internal service (a ``platform_admin``). The answer carries the
    secret, this once: it then signs in with ``grant_type=client_credentials``."""
    oauth_client, secret = await service.register(
        session=session,
        runtime=runtime,
        principal=principal,
        client_id=payload.client_id,
        name=payload.name,
        typ=payload.typ,
        dept=payload.dept,
        scopes=payload.scopes,
        now=runtime.now(),
    )
    return ClientWithSecret(**_read(oauth_client).model_dump(), client_secret=secret)


@router.get(
    "", response_model=ClientList, responses=problem_responses(StaffAdminRequired, InvalidCursor)
)
async def list_clients(
    principal: PrincipalDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> ClientList:
    """The clients you administer, by id, a page at a time; never their secrets."""
    clients, next_cursor = await service.administered(
        session=session,
        principal=principal,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )
    return ClientList(
        items=[_read(oauth_client) for oauth_client in clients], next_cursor=next_cursor
    )


@router.post(
    "/{client_id}/secret",
    response_model=ClientWithSecret,
    responses=problem_responses(StaffAdminRequired, ClientNotFound),
)
async def rotate_secret(
    client_id: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ClientWithSecret:
    """A new secret, shown this once. The one it replaces keeps working until
    ``previous_secret_expires_at``, so the system's instances can move over without downtime;
    ``DELETE .../previous-secret`` ends that at once."""
    oauth_client, secret = await service.rotate_secret(
        session=session,
        runtime=runtime,
        principal=principal,
        client_id=client_id,
        now=runtime.now(),
    )
    return ClientWithSecret(**_read(oauth_client).model_dump(), client_secret=secret)


@router.delete(
    "/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(StaffAdminRequired, ClientNotFound),
)
async def disable_client(
    client_id: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Disable the client: no new token from now on, and the tokens it holds are refused
    within seconds (the revocation list)."""
    await service.disable(
        session=session,
        runtime=runtime,
        principal=principal,
        client_id=client_id,
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{client_id}/previous-secret",
    response_model=ClientRead,
    responses=problem_responses(StaffAdminRequired, ClientNotFound),
)
async def end_previous_secret(
    client_id: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ClientRead:
    """End the overlap of the secret the last rotation replaced, at once (it leaked, or every
    instance has moved to the new one): it grants no token more, and the tokens granted with
    it are refused within seconds (the revocation list). After a leak: rotate, then this."""
    oauth_client = await service.end_previous_secret(
        session=session,
        runtime=runtime,
        principal=principal,
        client_id=client_id,
        now=runtime.now(),
    )
    return _read(oauth_client)


def _read(oauth_client: OAuthClient) -> ClientRead:
    return ClientRead(
        client_id=oauth_client.client_id,
        name=oauth_client.name,
        typ=oauth_client.typ,
        dept=oauth_client.dept,
        scopes=oauth_client.scopes.split(),
        created_at=oauth_client.created_at,
        disabled_at=oauth_client.disabled_at,
        previous_secret_expires_at=oauth_client.previous_secret_expires_at,
    )
