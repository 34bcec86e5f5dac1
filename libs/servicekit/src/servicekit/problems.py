"""Problem details (RFC 9457): every error any service answers, in one shape.

Domain code raises a ``DomainError`` subclass; it never raises ``HTTPException``. The handlers
installed by ``install_problem_handlers`` render, as ``application/problem+json``:

    DomainError             its own status and stable ``code``, plus extension members
    RequestValidationError  422 ``validation_failed`` with ``errors: [{field, message, type}]``
    HTTPException (routing) 404 ``not_found``, 405 ``method_not_allowed``, others by status
    Exception               500 ``internal_error`` carrying the request id: no stack, no data
                            (answered by observability's middleware, inside the request context)

Every body carries ``type``, ``title``, ``status``, ``code``, ``instance`` and ``request_id``.

A problem is declared once, by its class: ``status``, ``code``, ``title`` and ``members`` (the
extension members it sends, name → JSON schema). Raising it with a member it does not declare
is a ``TypeError``, like calling a function with an unknown keyword, so the documents
(``servicekit.openapi``) cannot say less than the answers. A class that only groups others
(``class OAuthError(DomainError, abstract=True)``) declares no problem and is never raised::

    DomainError (abstract)
    ├── NotFound                404 not_found
    ├── Conflict                409 conflict
    ├── Unauthenticated         401 unauthenticated
    │   ├── auth.InvalidToken   401 invalid_token
    │   └── auth.TokenExpired   401 token_expired
    ├── Forbidden               403 forbidden
    ├── MalformedBody           400 malformed_body
    ├── PayloadTooLarge         413 payload_too_large
    ├── ValidationFailed        422 validation_failed   errors: [{field, message, type}]
    ├── UpstreamUnavailable     503 upstream_unavailable
    └── ... every service's own
"""

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.context import current_request_id

PROBLEM_JSON = "application/problem+json"

#: A JSON schema (OpenAPI 3.1), as a mapping.
JsonSchema = Mapping[str, Any]


def extension_members(**schemas: JsonSchema) -> Mapping[str, JsonSchema]:
    """A problem's ``members``: each extension member's name and JSON schema, read-only."""
    return MappingProxyType(schemas)


class DomainError(Exception):
    """An expected failure. Subclasses fix ``status``, ``code``, ``title`` and ``members``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    #: The extension members it sends, name → JSON schema; each schema gives ``examples``,
    #: which the documents' examples use.
    members: ClassVar[Mapping[str, JsonSchema]] = extension_members()
    #: A class that only groups problems: never raised, never documented.
    abstract: ClassVar[bool] = True

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.abstract = abstract

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        if self.abstract:
            raise TypeError(f"{type(self).__name__} groups problems: raise one of its kinds")
        undeclared = extensions.keys() - self.members.keys()
        if undeclared:
            raise TypeError(
                f"{type(self).__name__} declares no member {', '.join(sorted(undeclared))}"
            )
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions


def problem_classes(*packages: str) -> Iterator[type[DomainError]]:
    """Every concrete ``DomainError`` subclass imported so far (of the named packages only,
    when some are named), each once."""
    seen: set[type[DomainError]] = set()
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        for subclass in cls.__subclasses__():
            if subclass in seen:
                continue
            seen.add(subclass)
            pending.append(subclass)
            in_packages = not packages or any(
                subclass.__module__ == package or subclass.__module__.startswith(package + ".")
                for package in packages
            )
            if in_packages and not subclass.abstract:
                yield subclass


def disagreements(classes: Iterable[type[DomainError]]) -> list[str]:
    """Codes that two classes declare differently (status, title or members): one code is one
    problem, whichever class raises it."""
    first: dict[str, type[DomainError]] = {}
    found: list[str] = []
    for cls in sorted(classes, key=lambda c: (c.code, c.__module__, c.__qualname__)):
        other = first.setdefault(cls.code, cls)
        if other is cls:
            continue
        for aspect in ("status", "title", "members"):
            if getattr(cls, aspect) != getattr(other, aspect):
                found.append(
                    f"{cls.code}: {_name(other)} and {_name(cls)} differ in {aspect}: "
                    f"{getattr(other, aspect)!r} != {getattr(cls, aspect)!r}"
                )
    return found


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class UpstreamUnavailable(DomainError):
    status = 503
    code = "upstream_unavailable"
    title = "A service this request needs is unavailable"
    members = extension_members(
        upstream_status={
            "type": "integer",
            "description": "What the service needed answered, when it answered",
            "examples": [503],
        },
        upstream_code={
            "type": "string",
            "description": "The problem code the service needed answered with, if any",
            "examples": ["database_unavailable"],
        },
    )


class MalformedBody(DomainError):
    """A body the framework cannot even read as its media type (bytes that are not UTF-8, a
    broken multipart form); a body that is read but breaks the schema is ``ValidationFailed``."""

    status = 400
    code = "malformed_body"
    title = "The request body cannot be parsed"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "Request body too large"


#: The ``errors`` member of ``validation_failed`` and of the problems shaped like it: one entry
#: per field, never repeating the value sent (it may be personal). Give it ``examples`` of its own.
FIELD_ERRORS: JsonSchema = {
    "type": "array",
    "description": "One entry per field that is not valid",
    "items": {
        "type": "object",
        "properties": {
            "field": {
                "type": "string",
                "description": "Where, as a dotted path: `body.phone`, `query.limit`",
            },
            "message": {"type": "string"},
            "type": {"type": "string", "description": "The kind of error, stable"},
        },
        "required": ["field", "message", "type"],
    },
}


class OutsideJurisdiction(Forbidden):
    """A department (``<region>-<type>``) acts only for its own region and those below it, and
    only in its type's competence: whatever a refusal is about, one problem, with the members
    that say what was at stake."""

    code = "outside_jurisdiction"
    title = "What was asked lies outside the jurisdiction of the department acted for"
    members = extension_members(
        department={
            "type": "string",
            "description": "The department the token acts for",
            "examples": ["330302-public_security"],
        },
        rows={
            "type": "array",
            "items": {"type": "integer"},
            "description": "For a registry load: the indexes of the batch's records the "
            "department may not load (the first record of each such subject); at most 50",
            "examples": [[0, 3]],
        },
        item_code={
            "type": "string",
            "description": "For a catalogue item: its code",
            "examples": ["public_security.id_card_loss_report"],
        },
        item_department_type={"type": "string", "examples": ["public_security"]},
        item_region_code={
            "type": "string",
            "description": "For a catalogue item: its owning region (the smallest region "
            "containing every region it is listed in, at its handling tier or above)",
            "examples": ["330000"],
        },
        scope={
            "type": "object",
            "description": "For a catalogue administrator: the items of this department type "
            "owned by this region or a region within it",
            "properties": {
                "department_type": {"type": "string"},
                "region_code": {"type": "string"},
            },
            "examples": [{"department_type": "public_security", "region_code": "330302"}],
        },
    )


class InvalidRegion(DomainError):
    """A region code the caller gave that ``RegionCode.parse`` does not take."""

    status = 422
    code = "invalid_region_code"
    title = "Not a region code"


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    title = "The request is not valid"
    members = extension_members(
        errors={
            **FIELD_ERRORS,
            "examples": [
                [
                    {
                        "field": "body.phone",
                        "message": "String should match pattern '^1[3-9]\\d{9}$'",
                        "type": "string_pattern_mismatch",
                    }
                ]
            ],
        }
    )


def problem_body(
    *, status: int, code: str, title: str, detail: str | None, instance: str | None, **ext: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(ext)
    return body


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **ext: Any,
) -> JSONResponse:
    body = problem_body(
        status=status, code=code, title=title, detail=detail, instance=instance, **ext
    )
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


class MethodNotAllowed(DomainError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


#: The problems the framework's own HTTP errors are: a 400 is a body it could not parse (the
#: only 400 FastAPI raises; domain code raises ``DomainError``s, never ``HTTPException``).
_HTTP_PROBLEMS: dict[int, type[DomainError]] = {
    problem.status: problem
    for problem in (
        MalformedBody,
        Unauthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
    )
}
_OTHER_HTTP_CODES: dict[int, tuple[str, str]] = {
    406: ("not_acceptable", "Not acceptable"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("too_many_requests", "Too many requests"),
}


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only the location, message and type: never echo the submitted value, it may be personal.
    errors = [
        {"field": _field_path(tuple(err["loc"])), "message": err["msg"], "type": err["type"]}
        for err in exc.errors()
    ]
    return problem_response(
        status=ValidationFailed.status,
        code=ValidationFailed.code,
        title=ValidationFailed.title,
        detail="; ".join(f"{e['field']}: {e['message']}" for e in errors),
        instance=request.url.path,
        errors=errors,
    )


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem = _HTTP_PROBLEMS.get(exc.status_code)
    if problem is not None:
        code, title = problem.code, problem.title
    else:
        code, title = _OTHER_HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        instance=request.url.path,
        headers=exc.headers,
    )


def internal_error_body(instance: str | None) -> dict[str, Any]:
    """The body of a 500: the request id to quote, and nothing about the error itself."""
    return problem_body(
        status=500,
        code="internal_error",
        title="Internal error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
        instance=instance,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
