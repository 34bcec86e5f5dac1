"""The request headers that make item administration safe to retry and to race:
``Idempotency-Key`` on creation, ``If-Match`` with the draft's ``ETag`` on its edits and its
publication."""

import re

from servicekit.problems import DomainError

#: Long enough to be unique when clients generate it (a UUID is 36), short enough to index.
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._~:+/=-]{8,128}$")


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
    title = "Send If-Match with the ETag of the draft you last read"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
    title = "The draft has changed since you read it"


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


def draft_etag(based_on_version: int | None, revision: int) -> str:
    """A strong entity tag: one draft at a time per item, opened from one published version
    (0: none), counting its edits."""
    return f'"{based_on_version or 0}.{revision}"'


def require_match(if_match: str | None, current: str) -> None:
    """``If-Match`` must name the current tag (strong comparison); ``*`` names no version in
    particular, so it counts as missing."""
    if if_match is None or if_match.strip() in ("", "*"):
        raise PreconditionRequired()
    if current not in {candidate.strip() for candidate in if_match.split(",")}:
        raise PreconditionFailed("read the draft again (its ETag), then repeat the change")
