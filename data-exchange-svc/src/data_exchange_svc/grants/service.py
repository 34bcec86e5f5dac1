"""The grant decision: a pure function of the consumer's active grants and the request."""

from collections.abc import Sequence

from data_exchange_svc.models import SharingGrant
from servicekit.problems import Forbidden


class NoGrant(Forbidden):
    code = "no_grant"
    title = "No active grant covers this resource for the caller"


class PurposeNotAllowed(Forbidden):
    code = "purpose_not_allowed"
    title = "No active grant allows this purpose"


class FieldNotGranted(Forbidden):
    code = "field_not_granted"
    title = "Some requested fields are not granted for this purpose"


def authorise(
    active_grants: Sequence[SharingGrant], *, purpose: str, fields: Sequence[str]
) -> None:
    """Allow ``fields`` for ``purpose`` only if the grants that allow the purpose cover them all.

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
