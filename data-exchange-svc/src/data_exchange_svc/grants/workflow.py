"""The grant workflow: apply, approve, refuse, revoke. Who may do what:

- a consumer department (its staff or department systems) applies, and may give up its own
  approved grant;
- staff of the providing department — a department whose type owns the resource, e.g. any
  ``*-public_security`` department for the population registry — approve, refuse and revoke.
  (Department ids are ``<region code>-<department type>``.)

Anyone else learns nothing about a grant: 404 ``grant_not_found``.

An approval or a revocation takes effect at once in this process: it drops the process's cache
of active grants (see grants.cache), now and when the request commits.
"""

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.grants import repository
from data_exchange_svc.grants.cache import ActiveGrants
from data_exchange_svc.grants.schemas import GrantApply, RateLimit
from data_exchange_svc.models import DataResource, SharingGrant
from data_exchange_svc.resources import repository as resources_repository
from data_exchange_svc.resources.catalogue import Catalogue
from data_exchange_svc.resources.service import require_fields, shared_resource
from servicekit.auth import Principal, require_type
from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, extension_members

#: The longest an approval may run before the provider reviews it again.
MAX_GRANT_DAYS = 366


class GrantNotFound(NotFound):
    code = "grant_not_found"
    title = "No such grant visible to the caller"


class NotTheProvider(Forbidden):
    code = "not_the_provider"
    title = "Only staff of the providing department decide on this grant"


class ConsumerUnidentified(Forbidden):
    code = "consumer_unidentified"
    title = "The token names no department to act for"


class GrantNotPending(Conflict):
    code = "grant_not_pending"
    title = "The grant has already been decided"
    members = extension_members(grant_status={"type": "string", "examples": ["refused"]})


class GrantNotApproved(Conflict):
    code = "grant_not_approved"
    title = "Only an approved grant can be revoked"
    members = extension_members(grant_status={"type": "string", "examples": ["refused"]})


class InvalidExpiry(DomainError):
    status = 422
    code = "invalid_expiry"
    title = "An expiry must be in the future, within 366 days"


def department_type(department_id: str) -> str:
    return department_id.split("-", 1)[1] if "-" in department_id else ""


def _consumer_department(principal: Principal) -> str:
    require_type(principal, "staff", "department_system")
    if not principal.dept:
        raise ConsumerUnidentified()
    return principal.dept


def _is_provider(principal: Principal, resource: DataResource) -> bool:
    return (
        principal.typ == "staff"
        and principal.dept is not None
        and department_type(principal.dept) == resource.owner_department_type
    )


def _set_rate(grant: SharingGrant, rate_limit: RateLimit | None) -> None:
    grant.rate_per_minute = rate_limit.per_minute if rate_limit else None
    grant.rate_burst = rate_limit.bucket_size if rate_limit else None


async def apply(
    session: AsyncSession,
    principal: Principal,
    application: GrantApply,
    *,
    catalogue: Catalogue,
) -> SharingGrant:
    consumer = _consumer_department(principal)
    resource = await shared_resource(catalogue, application.resource)
    fields = list(dict.fromkeys(application.fields))
    require_fields(resource, fields, to_match=False)
    grant = SharingGrant(
        consumer=consumer,
        resource_code=resource.code,
        fields=fields,
        purposes=list(dict.fromkeys(application.purposes)),
        legal_basis=application.legal_basis,
        status="pending",
        applied_by=principal.sub,
    )
    _set_rate(grant, application.rate_limit)
    await repository.add(session, grant)
    return grant


async def _visible(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID, *, lock: bool = False
) -> tuple[SharingGrant, bool]:
    """The grant and whether the caller is its provider; 404 to anyone not party to it."""
    grant = await (repository.get_for_update if lock else repository.get)(session, grant_id)
    if grant is None:
        raise GrantNotFound()
    resource = await resources_repository.get(session, grant.resource_code)
    provider = resource is not None and _is_provider(principal, resource)
    if not provider and not (principal.dept and principal.dept == grant.consumer):
        raise GrantNotFound()
    return grant, provider


async def read(session: AsyncSession, principal: Principal, grant_id: uuid.UUID) -> SharingGrant:
    grant, _ = await _visible(session, principal, grant_id)
    return grant


async def _decide(session: AsyncSession, principal: Principal, grant_id: uuid.UUID) -> SharingGrant:
    grant, provider = await _visible(session, principal, grant_id, lock=True)
    if not provider:
        raise NotTheProvider()
    if grant.status != "pending":
        raise GrantNotPending(grant_status=grant.status)
    return grant


async def approve(
    session: AsyncSession,
    principal: Principal,
    grant_id: uuid.UUID,
    *,
    expires_at: dt.datetime,
    rate_limit: RateLimit | Literal["as_asked"] | None = "as_asked",
    now: dt.datetime,
    active_grants: ActiveGrants,
) -> SharingGrant:
    """Approve until ``expires_at``, at the rate asked for or at ``rate_limit`` (None: no
    limit of the grant's own)."""
    if expires_at.tzinfo is None or not now < expires_at <= now + dt.timedelta(days=MAX_GRANT_DAYS):
        raise InvalidExpiry()
    grant = await _decide(session, principal, grant_id)
    grant.status, grant.expires_at = "approved", expires_at
    grant.decided_by, grant.decided_at = principal.sub, now
    if rate_limit != "as_asked":
        _set_rate(grant, rate_limit)
    await session.flush()
    active_grants.invalidate_on_commit(session)
    return grant


async def refuse(
    session: AsyncSession,
    principal: Principal,
    grant_id: uuid.UUID,
    *,
    reason: str,
    now: dt.datetime,
) -> SharingGrant:
    grant = await _decide(session, principal, grant_id)
    grant.status, grant.decision_note = "refused", reason
    grant.decided_by, grant.decided_at = principal.sub, now
    await session.flush()
    return grant


async def revoke(
    session: AsyncSession,
    principal: Principal,
    grant_id: uuid.UUID,
    *,
    reason: str,
    now: dt.datetime,
    active_grants: ActiveGrants,
) -> SharingGrant:
    """The provider withdraws a grant, or the consumer gives it up: from now on, no data (in
    this process at once, in others within ``grant_cache_seconds``)."""
    grant, _ = await _visible(session, principal, grant_id, lock=True)
    if grant.status != "approved":
        raise GrantNotApproved(grant_status=grant.status)
    grant.status, grant.revoked_at, grant.decision_note = "revoked", now, reason
    await session.flush()
    active_grants.invalidate_on_commit(session)
    return grant
