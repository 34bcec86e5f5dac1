"""The rules about resources a call names: it exists, it is shared, its fields exist. Checked
against the process's catalogue snapshot (see resources.catalogue); the public catalogue
endpoints read the database."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import DataResource
from data_exchange_svc.resources import repository
from data_exchange_svc.resources.catalogue import Catalogue, CataloguedResource
from data_exchange_svc.resources.spec import HOSTED, PREDICATE_TYPES, ResourceSpec
from servicekit.pagination import Cursors
from servicekit.problems import DomainError, Forbidden, NotFound, extension_members


class ResourceNotFound(NotFound):
    code = "resource_not_found"
    title = "No such data resource"
    members = extension_members(
        resource={
            "type": "string",
            "description": "The data resource's code",
            "examples": ["population"],
        }
    )


class ResourceNotShared(Forbidden):
    code = "resource_not_shared"
    title = "This data resource is not shared"
    members = extension_members(
        resource={
            "type": "string",
            "description": "The data resource's code",
            "examples": ["population"],
        }
    )


class UnknownField(DomainError):
    status = 422
    code = "unknown_field"
    title = "The resource has no such field"
    members = extension_members(
        fields={"type": "array", "items": {"type": "string"}, "examples": [["face_template"]]}
    )


class FieldNotMatchable(DomainError):
    status = 422
    code = "field_not_matchable"
    title = "A match cannot compare this field"
    members = extension_members(
        fields={"type": "array", "items": {"type": "string"}, "examples": [["face_template"]]}
    )


class FieldNotReadable(DomainError):
    status = 422
    code = "field_not_readable"
    title = "A call cannot read this field: it answers only a match"
    members = extension_members(
        fields={"type": "array", "items": {"type": "string"}, "examples": [["face_template"]]}
    )


class ResourceNotServed(DomainError):
    status = 501
    code = "resource_not_served"
    title = "The exchange cannot yet answer calls on this resource"
    members = extension_members(
        resource={
            "type": "string",
            "description": "The data resource's code",
            "examples": ["population"],
        }
    )


async def catalogued_resource(catalogue: Catalogue, code: str) -> CataloguedResource:
    resource = await catalogue.resource(code)
    if resource is None:
        raise ResourceNotFound(resource=code)
    return resource


async def shared_resource(catalogue: Catalogue, code: str) -> CataloguedResource:
    resource = await catalogued_resource(catalogue, code)
    if resource.classification == "not_shared":
        raise ResourceNotShared(resource=code)
    return resource


def require_fields(resource: CataloguedResource, fields: Sequence[str], *, to_match: bool) -> None:
    known = resource.fields_by_name
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise UnknownField(fields=unknown)
    if to_match:
        unmatchable = [name for name in fields if not known[name].matchable]
        if unmatchable:
            raise FieldNotMatchable(fields=unmatchable)


def require_readable(resource: CataloguedResource, fields: Sequence[str]) -> None:
    """A call reads stored values: a predicate (granted like any field) only answers matches."""
    known = resource.fields_by_name
    unreadable = [name for name in fields if known[name].value_type in PREDICATE_TYPES]
    if unreadable:
        raise FieldNotReadable(fields=unreadable)


def served_spec(resource: CataloguedResource) -> ResourceSpec:
    """The spec the exchange answers the resource by, hosted or remote; 501 for none."""
    spec = HOSTED.get(resource.code)
    if spec is None or spec.hosting != resource.hosting:
        raise ResourceNotServed(resource=resource.code)
    return spec


def hosted_spec(resource: CataloguedResource) -> ResourceSpec:
    """The spec the exchange hosts the resource by; 501 for one it does not host."""
    spec = HOSTED.get(resource.code)
    if spec is None or resource.hosting != "hosted":
        raise ResourceNotServed(resource=resource.code)
    return spec


async def resource_page(
    session: AsyncSession, *, cursors: Cursors, cursor: str | None, limit: int
) -> tuple[list[DataResource], str | None]:
    """A page of resources by code, and the cursor of the next page (None on the last)."""
    position = cursors.decode_optional("resources", cursor)
    after: str | None = position["after"] if position is not None else None
    resources = await repository.page(session, after=after, limit=limit + 1)
    if len(resources) > limit:
        return resources[:limit], cursors.encode("resources", {"after": resources[limit - 1].code})
    return resources, None


async def resource_of(session: AsyncSession, code: str) -> DataResource:
    resource = await repository.get(session, code)
    if resource is None:
        raise ResourceNotFound(resource=code)
    return resource
