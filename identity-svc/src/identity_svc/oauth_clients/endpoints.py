"""HTTP endpoints for OAuth clients: register, list, read, replace the keys and redirect URIs,
rotate the secret, disable."""

from fastapi import APIRouter, Response, status

from identity_svc.accounts.service import AccountNotFound
from identity_svc.deps import RuntimeDep, SettingsDep
from identity_svc.models import OAuthClient
from identity_svc.oauth_clients import service
from identity_svc.oauth_clients.metadata import InvalidClientMetadata, InvalidRedirectUri
from identity_svc.oauth_clients.schemas import (
    ClientCreate,
    ClientList,
    ClientRead,
    ClientSignIn,
    ClientWithSecret,
)
from identity_svc.oauth_clients.service import (
    ClientExists,
    ClientIdOutsideNamespace,
    ClientNotFound,
    ClientWithoutSecret,
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
        InvalidClientMetadata,
        InvalidRedirectUri,
    ),
)
async def register_client(
    payload: ClientCreate, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ClientWithSecret:
    """Register a department system (a ``department_admin`` for their department, or a
    ``platform_admin``), an internal service or an app (a ``platform_admin``).

    - ``client_secret_basic`` (the default but for an app): the answer carries the secret, this
      once; the client then authenticates with it (e.g. ``grant_type=client_credentials``).
    - ``private_key_jwt``: the client registers its public keys (``jwks``) and authenticates
      with a JWT it signs (RFC 7523): no secret is made.
    - ``none``: an app (``typ`` app, a public client): no secret, no key; it may not use
      ``client_credentials``.

    A client that signs citizens in lists its ``redirect_uris`` (and
    ``post_logout_redirect_uris``), matched exactly; a platform administrator may make it
    ``first_party``."""
    oauth_client, secret = await service.register(
        session=session,
        runtime=runtime,
        principal=principal,
        client_id=payload.client_id,
        name=payload.name,
        typ=payload.typ,
        dept=payload.dept,
        scopes=payload.scopes,
        auth_method=payload.auth_method,
        jwks=payload.jwks,
        redirect_uris=payload.redirect_uris,
        post_logout_redirect_uris=payload.post_logout_redirect_uris,
        first_party=payload.first_party,
        now=runtime.now(),
    )
    return ClientWithSecret(**_read(oauth_client).model_dump(), client_secret=secret)


@router.get(
    "/{client_id}",
    response_model=ClientRead,
    responses=problem_responses(StaffAdminRequired, ClientNotFound),
)
async def read_client(client_id: str, principal: PrincipalDep, session: SessionDep) -> ClientRead:
    """A client you administer: how it authenticates, its public keys, its redirect URIs;
    never its secret."""
    oauth_client = await service.administered_client(
        session=session, principal=principal, client_id=client_id
    )
    return _read(oauth_client)


@router.put(
    "/{client_id}/sign-in",
    response_model=ClientRead,
    responses=problem_responses(
        StaffAdminRequired, ClientNotFound, InvalidClientMetadata, InvalidRedirectUri
    ),
)
async def replace_sign_in(
    client_id: str,
    payload: ClientSignIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ClientRead:
    """Replace the client's public keys (``jwks``, a ``private_key_jwt`` client's only) and its
    redirect URIs, all at once: to rotate a key, send the new one beside the old, then later
    the new one alone. Checked as at registration. The tokens it holds stay valid."""
    oauth_client = await service.replace_sign_in(
        session=session,
        principal=principal,
        client_id=client_id,
        jwks=payload.jwks,
        redirect_uris=payload.redirect_uris,
        post_logout_redirect_uris=payload.post_logout_redirect_uris,
        now=runtime.now(),
    )
    return _read(oauth_client)


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
    responses=problem_responses(StaffAdminRequired, ClientNotFound, ClientWithoutSecret),
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
        auth_method=oauth_client.auth_method,
        jwks=oauth_client.jwks,
        redirect_uris=oauth_client.redirect_uris,
        post_logout_redirect_uris=oauth_client.post_logout_redirect_uris,
        first_party=oauth_client.first_party,
        created_at=oauth_client.created_at,
        disabled_at=oauth_client.disabled_at,
        previous_secret_expires_at=oauth_client.previous_secret_expires_at,
    )
