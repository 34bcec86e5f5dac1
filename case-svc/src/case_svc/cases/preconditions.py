"""The request headers that make case writes safe to retry and to race: ``Idempotency-Key`` on
submission, ``If-Match`` on transitions, and the ``ETag`` that feeds it."""

import re

from servicekit.problems import DomainError

#: Long enough to be unique when clients generate it (a UUID is 36), short enough to index.
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._~:+/=-]{8,128}$")
_ENTITY_TAG = re.compile(r'^(?:W/)?"(\d{1,9})"$')


class IdempotencyKeyRequired(DomainError):
    status = 400
    code = "idempotency_key_required"
    title = "Send an Idempotency-Key header with this request"


class InvalidIdempotencyKey(DomainError):
    status = 400
    code = "invalid_idempotency_key"
    title = "The Idempotency-Key header is malformed"


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"
    title = "Send If-Match with the version of the case you last read"


class VersionMismatch(DomainError):
    status = 412
    code = "version_mismatch"
    title = "The case has changed since you read it"


def idempotency_key(header: str | None) -> str:
    """The key, from the header as sent; a structured-field string in quotes is accepted too."""
    if header is None:
        raise IdempotencyKeyRequired()
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _IDEMPOTENCY_KEY.match(key):
        raise InvalidIdempotencyKey(
            "use 8 to 128 characters of letters, digits and ._~:+/=- (a UUID is a good key)"
        )
    return key


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
