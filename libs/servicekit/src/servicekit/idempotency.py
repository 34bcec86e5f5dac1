"""``Idempotency-Key``: the header that makes a write safe to retry. The key's form and the
problems of a missing, malformed or reused key; each service keeps its own record of keys."""

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


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"


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
