"""Problem details (RFC 9457): every error any service answers, in one shape.

Domain code raises a ``DomainError`` subclass; it never raises ``HTTPException``. The handlers
installed by ``install_problem_handlers`` render, as ``application/problem+json``:

    DomainError             its own status and stable ``code``, plus extension members
    RequestValidationError  422 ``validation_failed`` with ``errors: [{field, message, type}]``
    HTTPException (routing) 404 ``not_found``, 405 ``method_not_allowed``, others by status
    Exception               500 ``internal_error`` carrying the request id: no stack, no data
                            (answered by observability's middleware, inside the request context)

Every body carries ``type``, ``title``, ``status``, ``code``, ``instance`` and ``request_id``.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.context import current_request_id

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """An expected failure. Subclasses fix ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions


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


_STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Request body too large"),
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
        status=422,
        code="validation_failed",
        title="The request is not valid",
        detail="; ".join(f"{e['field']}: {e['message']}" for e in errors),
        instance=request.url.path,
        errors=errors,
    )


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _STATUS_CODES.get(exc.status_code, ("http_error", "HTTP error"))
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
