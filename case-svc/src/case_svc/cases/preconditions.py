"""The request headers that make case transitions safe to race: ``If-Match`` on transitions, and
the ``ETag`` that feeds it (``Idempotency-Key`` on submission is the kit's)."""

import re

from servicekit.problems import DomainError

_ENTITY_TAG = re.compile(r'^(?:W/)?"(\d{1,9})"$')


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"
    title = "Send If-Match with the version of the case you last read"


class VersionMismatch(DomainError):
    status = 412
    code = "version_mismatch"
    title = "The case has changed since you read it"


def expected_version(header: str | None) -> int:
    """The version an ``If-Match`` names. ``*`` names none, so it counts as missing."""
    if header is None or header.strip() in ("", "*"):
        raise PreconditionRequired()
    match = _ENTITY_TAG.match(header.strip())
    if match is None:
        # A tag this service never issued can match no version of the case.
        raise VersionMismatch("If-Match names no version of this case")
    return int(match.group(1))


def etag(version: int) -> str:
    return f'W/"{version}"'
