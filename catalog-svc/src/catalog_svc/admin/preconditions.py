"""The request headers that make item administration safe to race: ``If-Match`` with the
draft's ``ETag`` on its edits and its publication (``Idempotency-Key`` on creation is the
kit's)."""

from servicekit.problems import DomainError


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"
    title = "Send If-Match with the ETag of the draft you last read"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
    title = "The draft has changed since you read it"


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
