"""The rules of OAuth clients: department systems (some of them portals that sign citizens in),
internal services, and the platform's app.

A ``platform_admin`` registers any client; a ``department_admin`` registers department systems
of their own department only, never first-party ones (``first_party``: the platform's own, which
citizens are not asked to consent to). How a client authenticates, its keys and its redirect
URIs obey ``metadata``; an administrator can replace its keys and redirect URIs later (a key
rotated, a portal moved), which the audit trail records.

A department system's id lies in its department's namespace (``ds-<region>-<type>-...``, made
when none is given), so that no system passes for a service or for another department's system;
a service's or an app's id is the platform administrator's choice, but never one in a
department's namespace. Scopes come from the registry (``scopes.toml``). The secret of a
``client_secret_basic`` client (the others have none) is made here, shown once, and stored as an
argon2 hash. Rotating it makes a new secret and keeps the previous one working for
``client_secret_overlap_hours``, so that every instance of the system can move to the new secret
before the old one stops: no downtime. An administrator can end that overlap at once (the
previous secret leaked, or every instance has moved): the previous secret stops, and the tokens
granted with it (their ``sgen``) go on the revocation list. Disabling a client ends its new
tokens and, through the list, the ones it holds. Both are written to the audit trail.
"""

import datetime as dt
import secrets
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.audit import service as audit
from identity_svc.models import Account, OAuthClient
from identity_svc.oauth_clients import repository
from identity_svc.oauth_clients.metadata import (
    AuthMethod,
    ClientType,
    check_client,
    default_auth_method,
)
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.staff.service import DepartmentRequired, OtherDepartment, StaffAdminRequired
from identity_svc.staff.service import administrator as staff_administrator
from identity_svc.tokens import repository as tokens_repository
from identity_svc.tokens.service import SERVICE_SUBJECT, register_client
from servicekit.auth import Principal
from servicekit.pagination import Cursors
from servicekit.problems import Conflict, DomainError, NotFound, extension_members


class ClientWithoutSecret(Conflict):
    code = "client_without_secret"
    title = "This client authenticates without a secret: it has none to rotate"


class ClientExists(Conflict):
    code = "client_exists"
    title = "A client with this id is already registered"
    members = extension_members(
        client_id={"type": "string", "examples": ["wenzhou-civil-affairs-portal"]}
    )


class ClientIdOutsideNamespace(DomainError):
    status = 422
    code = "client_id_outside_namespace"
    title = "A department system's id lies in its department's namespace; a service's never does"
    members = extension_members(
        namespace={
            "type": "string",
            "description": "The prefix a department system's id must have",
            "examples": ["ds-330302-public-security-"],
        }
    )


class UnknownScope(DomainError):
    status = 422
    code = "unknown_scope"
    title = "A scope is not in the registry"
    members = extension_members(
        scopes={"type": "array", "items": {"type": "string"}, "examples": [["everything"]]}
    )


def _load_scopes(path: Path) -> frozenset[str]:
    with path.open("rb") as source:
        return frozenset(scope["name"] for scope in tomllib.load(source)["scope"])


#: The scopes a client may hold (``scopes.toml`` beside this file).
SCOPES = _load_scopes(Path(__file__).with_name("scopes.toml"))
#: Every department system's id starts with this, then its department's namespace.
SYSTEM_PREFIX = "ds-"


def namespace_of(dept: str) -> str:
    """``330302-public_security`` → ``ds-330302-public-security-``."""
    return SYSTEM_PREFIX + dept.replace("_", "-").lower() + "-"


def _client_id(chosen: str | None, *, typ: ClientType, dept: str | None) -> str:
    if typ == "department_system":
        assert dept is not None  # checked before
        namespace = namespace_of(dept)
        if chosen is None:
            return namespace + secrets.token_hex(4)
        if not chosen.startswith(namespace) or len(chosen) == len(namespace):
            raise ClientIdOutsideNamespace(namespace=namespace)
        return chosen
    if chosen is None:
        return f"{'app' if typ == 'app' else 'svc'}-{secrets.token_hex(8)}"
    if chosen == SERVICE_SUBJECT:
        # identity-svc signs its own tokens: a client of that name would pass for it.
        raise ClientIdOutsideNamespace("identity-svc's name is its own", namespace=SYSTEM_PREFIX)
    if chosen.startswith(SYSTEM_PREFIX):
        raise ClientIdOutsideNamespace(
            f"a{'n app' if typ == 'app' else ' service'}'s id is never a department system's",
            namespace=SYSTEM_PREFIX,
        )
    return chosen


class ClientNotFound(NotFound):
    code = "client_not_found"
    title = "No such client among those you administer"


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _may_administer(admin: Account, *, typ: str, dept: str | None) -> None:
    roles = set(admin.roles or [])
    if "platform_admin" in roles:
        return
    if "department_admin" not in roles:
        raise StaffAdminRequired("only a department or platform administrator manages clients")
    if typ != "department_system":
        raise StaffAdminRequired(
            "internal services and apps are registered by a platform administrator"
        )
    if dept != admin.dept:
        raise OtherDepartment("a department administrator manages their department's systems")


async def register(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    client_id: str | None,
    name: str,
    typ: ClientType,
    dept: str | None,
    scopes: Sequence[str],
    auth_method: AuthMethod | None = None,
    jwks: dict[str, Any] | None = None,
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    first_party: bool = False,
    now: dt.datetime,
) -> tuple[OAuthClient, str | None]:
    """The client, and its secret (shown this once; None for a client that authenticates
    otherwise). ``auth_method`` None: ``none`` for an app, ``client_secret_basic`` for the
    others."""
    admin = await staff_administrator(session, principal)
    if typ == "department_system" and dept is None:
        raise DepartmentRequired("a department system belongs to a department: give dept")
    _may_administer(admin, typ=typ, dept=dept)
    if first_party and "platform_admin" not in set(admin.roles or []):
        raise StaffAdminRequired("only a platform administrator makes a client first-party")
    method = auth_method or default_auth_method(typ)
    check_client(
        typ=typ,
        auth_method=method,
        jwks=jwks,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
    )
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise UnknownScope(scopes=unknown)
    chosen = _client_id(client_id, typ=typ, dept=dept)
    if await tokens_repository.client(session, chosen) is not None:
        raise ClientExists(client_id=chosen)
    secret = new_secret() if method == "client_secret_basic" else None
    oauth_client = await register_client(
        session=session,
        passwords=runtime.passwords,
        client_id=chosen,
        client_secret=secret,
        name=name,
        typ=typ,
        dept=dept,
        scopes=" ".join(scopes),
        auth_method=method,
        jwks=jwks,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
        first_party=first_party,
        now=now,
    )
    oauth_client.created_by = admin.id
    await repository.flush(session)
    return oauth_client, secret


async def administered_client(
    *, session: AsyncSession, principal: Principal, client_id: str
) -> OAuthClient:
    """A client the caller administers (``ClientNotFound`` for any other)."""
    _admin, oauth_client = await _administered(session, principal, client_id)
    return oauth_client


async def replace_sign_in(
    *,
    session: AsyncSession,
    principal: Principal,
    client_id: str,
    jwks: dict[str, Any] | None,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str],
    now: dt.datetime,
) -> OAuthClient:
    """Replace the client's keys and redirect URIs with these, checked as at registration. The
    tokens it holds stay valid: a key rotated or a portal moved is no compromise (disable the
    client for that). Recorded in the audit trail."""
    admin, oauth_client = await _administered(session, principal, client_id)
    if oauth_client.first_party and "platform_admin" not in set(admin.roles or []):
        raise StaffAdminRequired("only a platform administrator changes a first-party client")
    check_client(
        typ=oauth_client.typ,
        auth_method=oauth_client.auth_method,
        jwks=jwks,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
    )
    oauth_client.jwks = jwks
    oauth_client.redirect_uris = list(redirect_uris)
    oauth_client.post_logout_redirect_uris = list(post_logout_redirect_uris)
    await repository.flush(session)
    await audit.record(
        session,
        actor_id=admin.id,
        action="client.sign_in_replaced",
        subject=oauth_client.client_id,
        details={
            "kids": [key.get("kid") for key in (jwks or {}).get("keys", [])],
            "redirect_uris": list(redirect_uris),
            "post_logout_redirect_uris": list(post_logout_redirect_uris),
        },
        now=now,
    )
    return oauth_client


async def _administered(
    session: AsyncSession, principal: Principal, client_id: str
) -> tuple[Account, OAuthClient]:
    """The administrator and a client they manage (``ClientNotFound`` for any other)."""
    admin = await staff_administrator(session, principal)
    oauth_client = await tokens_repository.client(session, client_id)
    if oauth_client is None:
        raise ClientNotFound()
    try:
        _may_administer(admin, typ=oauth_client.typ, dept=oauth_client.dept)
    except (StaffAdminRequired, OtherDepartment) as exc:
        raise ClientNotFound() from exc
    return admin, oauth_client


async def rotate_secret(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    client_id: str,
    now: dt.datetime,
) -> tuple[OAuthClient, str]:
    """A new secret (shown this once); the current one keeps working for the overlap."""
    _admin, oauth_client = await _administered(session, principal, client_id)
    if oauth_client.auth_method != "client_secret_basic":
        raise ClientWithoutSecret(f"it authenticates with {oauth_client.auth_method}")
    secret = new_secret()
    overlap = dt.timedelta(hours=runtime.settings.client_secret_overlap_hours)
    oauth_client.previous_secret_hash = oauth_client.secret_hash
    oauth_client.previous_secret_expires_at = now + overlap
    oauth_client.secret_hash = await runtime.passwords.hash(secret)
    oauth_client.secret_generation += 1
    await repository.flush(session)
    return oauth_client, secret


async def end_previous_secret(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    client_id: str,
    now: dt.datetime,
) -> OAuthClient:
    """End the overlap of the secret a rotation replaced: it grants nothing more, and the
    tokens granted with it (or any older one) are refused at once. Ending no overlap changes
    nothing."""
    admin, oauth_client = await _administered(session, principal, client_id)
    until = oauth_client.previous_secret_expires_at
    if oauth_client.previous_secret_hash is None or until is None or until <= now:
        return oauth_client
    oauth_client.previous_secret_hash = None
    oauth_client.previous_secret_expires_at = None
    await repository.flush(session)
    await revocations.end_client_tokens(
        session,
        runtime,
        oauth_client.client_id,
        generations_below=oauth_client.secret_generation,
        now=now,
    )
    await audit.record(
        session,
        actor_id=admin.id,
        action="client.previous_secret_ended",
        subject=oauth_client.client_id,
        details={"generations_below": oauth_client.secret_generation},
        now=now,
    )
    return oauth_client


async def disable(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    client_id: str,
    now: dt.datetime,
) -> None:
    """No token from now on, and those it holds refused at once."""
    admin, oauth_client = await _administered(session, principal, client_id)
    if oauth_client.disabled_at is None:
        oauth_client.disabled_at = now
        await repository.flush(session)
        await revocations.end_client_tokens(
            session, runtime, oauth_client.client_id, generations_below=None, now=now
        )
        await audit.record(
            session,
            actor_id=admin.id,
            action="client.disabled",
            subject=oauth_client.client_id,
            now=now,
        )


async def administered(
    *,
    session: AsyncSession,
    principal: Principal,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[OAuthClient], str | None]:
    """A page of the clients the caller administers (all of them, or their department's
    systems) by id, and the cursor of the next page."""
    admin = await staff_administrator(session, principal)
    roles = set(admin.roles or [])
    if "platform_admin" in roles:
        dept = None
    elif "department_admin" in roles and admin.dept is not None:
        dept = admin.dept
    else:
        raise StaffAdminRequired("only a department or platform administrator manages clients")
    context = f"clients:{principal.sub}:{dept or '*'}"
    position = cursors.decode_optional(context, cursor)
    found = await repository.page(
        session,
        dept=dept,
        after=position["after"] if position is not None else None,
        limit=limit + 1,
    )
    page = found[:limit]
    more = len(found) > limit
    return page, cursors.encode(context, {"after": page[-1].client_id}) if more else None
