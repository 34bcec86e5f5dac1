"""The rules about resources a call names: it exists, it is shared, its fields exist."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import DataResource
from data_exchange_svc.resources import repository
from data_exchange_svc.resources.spec import HOSTED, PREDICATE_TYPES, ResourceSpec
from servicekit.problems import DomainError, Forbidden, NotFound


class ResourceNotFound(NotFound):
    code = "resource_not_found"
    title = "No such data resource"


class ResourceNotShared(Forbidden):
    code = "resource_not_shared"
    title = "This data resource is not shared"


class UnknownField(DomainError):
    status = 422
    code = "unknown_field"
    title = "The resource has no such field"


class FieldNotMatchable(DomainError):
    status = 422
    code = "field_not_matchable"
    title = "A match cannot compare this field"


class FieldNotReadable(DomainError):
    status = 422
    code = "field_not_readable"
    title = "A call cannot read this field: it answers only a match"


class ResourceNotServed(DomainError):
    status = 501
    code = "resource_not_served"
    title = "The exchange cannot yet answer calls on this resource"


async def shared_resource(session: AsyncSession, code: str) -> DataResource:
    resource = await repository.get(session, code)
    if resource is None:
        raise ResourceNotFound(resource=code)
    if resource.classification == "not_shared":
        raise ResourceNotShared(resource=code)
    return resource


def require_fields(resource: DataResource, fields: Sequence[str], *, to_match: bool) -> None:
    known = {field.name: field for field in resource.fields}
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise UnknownField(fields=unknown)
    if to_match:
        unmatchable = [name for name in fields if not known[name].matchable]
        if unmatchable:
            raise FieldNotMatchable(fields=unmatchable)


def require_readable(resource: DataResource, fields: Sequence[str]) -> None:
    """A call reads stored values: a predicate (granted like any field) only answers matches."""
    types = {field.name: field.value_type for field in resource.fields}
    unreadable = [name for name in fields if types[name] in PREDICATE_TYPES]
    if unreadable:
        raise FieldNotReadable(fields=unreadable)


def hosted_spec(resource: DataResource) -> ResourceSpec:
    """The spec the exchange hosts the resource by; 501 for one it does not host."""
    spec = HOSTED.get(resource.code)
    if spec is None or resource.hosting != "hosted":
        raise ResourceNotServed(resource=resource.code)
    return spec


async def resource_page(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[DataResource], str | None]:
    """A page of resources by code, and the cursor of the next page (None on the last)."""
    resources = await repository.page(session, after=cursor, limit=limit + 1)
    if len(resources) > limit:
        return resources[:limit], resources[limit - 1].code
    return resources, None


async def resource_of(session: AsyncSession, code: str) -> DataResource:
    resource = await repository.get(session, code)
    if resource is None:
        raise ResourceNotFound(resource=code)
    return resource
