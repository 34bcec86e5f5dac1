"""The grant decision: a pure function of the consumer's active grants and the request; then
the rate limits of the grants it relied on."""

from collections.abc import Sequence

from data_exchange_svc.grants.cache import ActiveGrant
from data_exchange_svc.grants.rate_limits import GrantRateLimiter
from servicekit.problems import DomainError, Forbidden, extension_members


class NoGrant(Forbidden):
    code = "no_grant"
    title = "No active grant covers this resource for the caller"


class PurposeNotAllowed(Forbidden):
    code = "purpose_not_allowed"
    title = "No active grant allows this purpose"
    members = extension_members(purpose={"type": "string", "examples": ["face_verification"]})


class FieldNotGranted(Forbidden):
    code = "field_not_granted"
    title = "Some requested fields are not granted for this purpose"
    members = extension_members(
        fields={"type": "array", "items": {"type": "string"}, "examples": [["face_template"]]}
    )


class GrantRateLimited(DomainError):
    status = 429
    code = "grant_rate_limited"
    title = "The grant's rate limit is reached: try again after Retry-After seconds"
    members = extension_members(retry_after_seconds={"type": "integer", "examples": [1]})


def authorise(
    active_grants: Sequence[ActiveGrant], *, purpose: str, fields: Sequence[str]
) -> list[ActiveGrant]:
    """Allow ``fields`` for ``purpose`` only if the grants that allow the purpose cover them all;
    return the grants relied on (those of the purpose that grant a requested field).

    Several grants combine per purpose: a field granted for one purpose is not thereby granted
    for another.
    """
    if not active_grants:
        raise NoGrant()
    for_purpose = [grant for grant in active_grants if purpose in grant.purposes]
    if not for_purpose:
        raise PurposeNotAllowed(purpose=purpose)
    granted = {field for grant in for_purpose for field in grant.fields}
    refused = [field for field in fields if field not in granted]
    if refused:
        raise FieldNotGranted(fields=refused)
    return [grant for grant in for_purpose if not grant.fields.isdisjoint(fields)]


async def charge(limiter: GrantRateLimiter, grants: Sequence[ActiveGrant]) -> None:
    """Count the call against the rate of each grant relied on; 429 if one has none left."""
    wait = await limiter.take(grants)
    if wait is not None:
        raise GrantRateLimited(headers={"Retry-After": str(wait)}, retry_after_seconds=wait)
