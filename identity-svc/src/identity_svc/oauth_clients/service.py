"""The rules of OAuth clients (department systems and internal services).

A ``platform_admin`` registers any client; a ``department_admin`` registers department systems
of their own department only. A department system's id lies in its department's namespace
(``ds-<region>-<type>-...``, made when none is given), so that no system passes for a service or
for another department's system; a service's id is the platform administrator's choice, but
never one in a department's namespace. Scopes come from the registry (``scopes.toml``). The
secret is made here, shown once, and stored as an argon2 hash. Rotating it makes a new secret
and keeps the previous one working for ``client_secret_overlap_hours``, so that every instance
of the system can move to the new secret before the old one stops: no downtime. An
administrator can end that overlap at once (the previous secret leaked, or every instance has
moved): the previous secret stops, and the tokens granted with it (their ``sgen``) go on the
revocation list. Disabling a client ends its new tokens and, through the list, the ones it holds.
Both are written to the audit trail.
"""

import datetime as dt
import secrets
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.audit import service as audit
from identity_svc.models import Account, OAuthClient
from identity_svc.oauth_clients import repository
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.staff.service import DepartmentRequired, OtherDepartment, StaffAdminRequired
from identity_svc.staff.service import administrator as staff_administrator
from identity_svc.tokens import repository as tokens_repository
from identity_svc.tokens.service import SERVICE_SUBJECT, register_client
from servicekit.auth import Principal
from servicekit.pagination import Cursors
from servicekit.problems import Conflict, DomainError, NotFound, extension_members

ClientType = Literal["department_system", "service"]


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
        return f"svc-{secrets.token_hex(8)}"
    if chosen == SERVICE_SUBJECT:
        # identity-svc signs its own tokens: a client of that name would pass for it.
        raise ClientIdOutsideNamespace("identity-svc's name is its own", namespace=SYSTEM_PREFIX)
    if chosen.startswith(SYSTEM_PREFIX):
        raise ClientIdOutsideNamespace(
            "a service's id is never a department system's", namespace=SYSTEM_PREFIX
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
        raise StaffAdminRequired("internal services are registered by a platform administrator")
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
    now: dt.datetime,
) -> tuple[OAuthClient, str]:
    """The client, and its secret (shown this once)."""
    admin = await staff_administrator(session, principal)
    if typ == "department_system" and dept is None:
        raise DepartmentRequired("a department system belongs to a department: give dept")
    _may_administer(admin, typ=typ, dept=dept)
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise UnknownScope(scopes=unknown)
    chosen = _client_id(client_id, typ=typ, dept=dept)
    if await tokens_repository.client(session, chosen) is not None:
        raise ClientExists(client_id=chosen)
    secret = new_secret()
    oauth_client = await register_client(
        session=session,
        passwords=runtime.passwords,
        client_id=chosen,
        client_secret=secret,
        name=name,
        typ=typ,
        dept=dept,
        scopes=" ".join(scopes),
        now=now,
    )
    oauth_client.created_by = admin.id
    await repository.flush(session)
    return oauth_client, secret


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
