"""The grant workflow: apply, approve, refuse, revoke. Who may do what:

- a consumer department (its staff or department systems) applies — for purposes of the
  controlled list (``grants/purposes.toml``), never for identity-grade fields (face templates,
  other people's identity numbers: only identity-svc holds those, seeded), always with a rate
  limit — and may give up its own approved grant;
- a data steward (role ``data_steward``) of a department whose type owns the resource, e.g. a
  ``*-public_security`` steward for the population registry, decides: never on an application
  of their own, and only for the subjects of their region (the grant's ``region``: theirs or one
  below). A resource its records do not place (vehicles, certificates, remote resources) is
  granted province-wide, by the province's steward only. A refusal ends the application for
  every region: only a steward over the applicant's region refuses. A steward over the grant's
  region, or the consumer, revokes. (Department ids are ``<region code>-<department type>``.)

Staff of the providing department type can read its grants; anyone else learns nothing about a
grant: 404 ``grant_not_found``.

An approval or a revocation takes effect at once in this process: it drops the process's cache
of active grants (see grants.cache), now and when the request commits.
"""

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.grants import repository
from data_exchange_svc.grants.cache import ActiveGrants
from data_exchange_svc.grants.purposes import PURPOSES
from data_exchange_svc.grants.schemas import GrantApply, RateLimit
from data_exchange_svc.jurisdiction import Department, department_of, parse_department
from data_exchange_svc.models import DataResource, SharingGrant
from data_exchange_svc.resources import repository as resources_repository
from data_exchange_svc.resources.catalogue import Catalogue
from data_exchange_svc.resources.service import require_fields, shared_resource
from data_exchange_svc.resources.spec import HOSTED, RESERVED_TYPES
from servicekit.auth import Principal, require_type
from servicekit.problems import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidRegion,
    NotFound,
    OutsideJurisdiction,
    extension_members,
)
from servicekit.regions import InvalidRegionCode, RegionCode, RegionLevel

DATA_STEWARD = "data_steward"

#: The longest an approval may run before the provider reviews it again.
MAX_GRANT_DAYS = 366


class GrantNotFound(NotFound):
    code = "grant_not_found"
    title = "No such grant visible to the caller"


class NotTheProvider(Forbidden):
    code = "not_the_provider"
    title = "Only a data steward of the providing department type decides on this grant"


class OwnApplication(Forbidden):
    code = "own_application"
    title = "Nobody decides on a grant they applied for"


class FieldReserved(Forbidden):
    code = "field_reserved"
    title = "Identity-grade fields are never granted through the workflow"
    members = extension_members(
        fields={"type": "array", "items": {"type": "string"}, "examples": [["face_template"]]}
    )


class UnknownPurpose(DomainError):
    status = 422
    code = "unknown_purpose"
    title = "A purpose is not on the controlled list"
    members = extension_members(
        purposes={"type": "array", "items": {"type": "string"}, "examples": [["anything"]]}
    )


class PurposeReserved(Forbidden):
    code = "purpose_reserved"
    title = "The platform's identity checks are not applied for"
    members = extension_members(
        purposes={
            "type": "array",
            "items": {"type": "string"},
            "examples": [["face_verification"]],
        }
    )


class RateLimitRequired(DomainError):
    status = 422
    code = "rate_limit_required"
    title = "Every grant carries a rate limit"


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


def _consumer_department(principal: Principal) -> str:
    require_type(principal, "staff", "department_system")
    if not principal.dept:
        raise ConsumerUnidentified()
    return principal.dept


def _provider_department(principal: Principal, resource: DataResource) -> Department | None:
    """The caller's department if they are staff of the resource's owner type."""
    department = department_of(principal) if principal.typ == "staff" else None
    if department is None or department.type != resource.owner_department_type:
        return None
    return department


def _steward(principal: Principal, resource: DataResource) -> Department:
    department = _provider_department(principal, resource)
    if department is None or DATA_STEWARD not in (principal.roles or []):
        raise NotTheProvider()
    return department


def _covers_grant(steward: Department, grant: SharingGrant) -> bool:
    # A platform grant (no region) is everywhere: only the province answers for it.
    region = grant.region if grant.region is not None else steward.region.prefix[:2]
    return steward.region.contains(RegionCode(region))


def _scope(steward: Department, code: str, asked: str | None) -> RegionCode:
    """The region a steward's approval covers: their own by default, or one below it."""
    try:
        region = RegionCode.parse(asked) if asked is not None else steward.region
    except InvalidRegionCode as exc:
        raise InvalidRegion(str(exc)) from exc
    if not steward.covers(region):
        raise OutsideJurisdiction(
            f"{region} is not within {steward.id}'s region", department=steward.id
        )
    spec = HOSTED.get(code)
    if (spec is None or spec.jurisdiction is None) and region.level is not RegionLevel.PROVINCE:
        raise OutsideJurisdiction(
            f"{code}'s records do not place their subjects: it is granted province-wide, by "
            "the province's steward",
            department=steward.id,
        )
    return region


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
    reserved = [
        name for name in fields if resource.fields_by_name[name].value_type in RESERVED_TYPES
    ]
    if reserved:
        raise FieldReserved(fields=reserved)
    unknown = [purpose for purpose in application.purposes if purpose not in PURPOSES]
    if unknown:
        raise UnknownPurpose(purposes=unknown)
    platform_only = [purpose for purpose in application.purposes if PURPOSES[purpose].reserved]
    if platform_only:
        raise PurposeReserved(purposes=platform_only)
    if application.rate_limit is None:
        raise RateLimitRequired("apply with the rate of calls the purpose needs")
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
) -> tuple[SharingGrant, DataResource]:
    """The grant and its resource; 404 to anyone not party to it."""
    grant = await (repository.get_for_update if lock else repository.get)(session, grant_id)
    if grant is None:
        raise GrantNotFound()
    resource = await resources_repository.get(session, grant.resource_code)
    if resource is None:
        raise GrantNotFound()
    provider = _provider_department(principal, resource) is not None
    if not provider and not (principal.dept and principal.dept == grant.consumer):
        raise GrantNotFound()
    return grant, resource


async def read(session: AsyncSession, principal: Principal, grant_id: uuid.UUID) -> SharingGrant:
    grant, _ = await _visible(session, principal, grant_id)
    return grant


async def _decide(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID
) -> tuple[SharingGrant, Department]:
    grant, resource = await _visible(session, principal, grant_id, lock=True)
    steward = _steward(principal, resource)
    if grant.applied_by == principal.sub:
        raise OwnApplication()
    if grant.status != "pending":
        raise GrantNotPending(grant_status=grant.status)
    return grant, steward


async def approve(
    session: AsyncSession,
    principal: Principal,
    grant_id: uuid.UUID,
    *,
    expires_at: dt.datetime,
    rate_limit: RateLimit | Literal["as_asked"] | None = "as_asked",
    region: str | None = None,
    now: dt.datetime,
    active_grants: ActiveGrants,
) -> SharingGrant:
    """Approve until ``expires_at``, at the rate asked for or at ``rate_limit``, for the
    subjects of ``region`` (by default the steward's own)."""
    if expires_at.tzinfo is None or not now < expires_at <= now + dt.timedelta(days=MAX_GRANT_DAYS):
        raise InvalidExpiry()
    grant, steward = await _decide(session, principal, grant_id)
    scope = _scope(steward, grant.resource_code, region)
    if rate_limit != "as_asked":
        _set_rate(grant, rate_limit)
    if grant.rate_limit is None:
        raise RateLimitRequired("every grant carries a rate limit")
    grant.status, grant.expires_at, grant.region = "approved", expires_at, scope.prefix
    grant.decided_by, grant.decided_at = principal.sub, now
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
    grant, steward = await _decide(session, principal, grant_id)
    # A refusal ends the application for every region, so it is for a steward over the
    # applicant's own (a steward elsewhere approves for their subjects, or leaves it).
    consumer = parse_department(grant.consumer)
    if consumer is None or not steward.covers(consumer.region):
        raise OutsideJurisdiction(
            f"{grant.consumer} is not within {steward.id}'s region: a steward over it refuses",
            department=steward.id,
        )
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
    grant, resource = await _visible(session, principal, grant_id, lock=True)
    steward = None if principal.dept == grant.consumer else _steward(principal, resource)
    if grant.status != "approved":
        raise GrantNotApproved(grant_status=grant.status)
    if steward is not None and not _covers_grant(steward, grant):
        raise OutsideJurisdiction(
            f"the grant covers {grant.region or 'the whole platform'}", department=steward.id
        )
    grant.status, grant.revoked_at, grant.decision_note = "revoked", now, reason
    await session.flush()
    active_grants.invalidate_on_commit(session)
    return grant
