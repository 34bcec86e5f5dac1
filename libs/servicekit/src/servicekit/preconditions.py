"""``ETag`` and ``If-Match``: how an update that can race says which version it changes.

A resource that can be updated concurrently answers its version as a strong ``ETag``; a write
to it must send ``If-Match`` with that tag. Two problems, the same in every service:

    428 precondition_required   no If-Match (or ``*``, which names no version in particular)
    412 precondition_failed     the resource has changed since that version was read

The order is fixed: the resource must exist and be the caller's to change (404 / 403) before
its precondition is looked at, so a stranger learns nothing from a 428. Endpoints therefore
take the header as a plain string (``IfMatchHeader``) and hand it to ``require_match`` once
they hold the resource; the final write still compares versions in its ``WHERE`` clause, since
another request can win between the read and the write.
"""

from typing import Annotated

from fastapi import Header

from servicekit.problems import DomainError, extension_members


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"
    title = "Send If-Match with the ETag of the version you last read"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
    title = "The resource has changed since you read it"
    members = extension_members(
        current_etag={
            "type": "string",
            "description": "The resource's ETag now: read it again, then repeat the change",
            "examples": ['"3"'],
        }
    )


IfMatchHeader = Annotated[
    str | None, Header(description="Required: the resource's ETag, as last read")
]


def entity_tag(version: str | int) -> str:
    """The strong entity tag of a version."""
    return f'"{version}"'


def require_match(if_match: str | None, current: str) -> None:
    """``If-Match`` must name ``current`` (an ``entity_tag``) among its tags, compared strongly
    (RFC 9110 §13.1.1): a weak tag never matches."""
    if if_match is None or if_match.strip() in ("", "*"):
        raise PreconditionRequired()
    if current not in {candidate.strip() for candidate in if_match.split(",")}:
        raise PreconditionFailed(
            "read the resource again (its ETag), then repeat the change", current_etag=current
        )
