"""The edge: checks every request passes before anything else looks at it, and headers every
answer carries.

Refused here, as problems, before routing or token checks:

- a request whose headers together exceed ``max_header_bytes``: 431
  ``request_header_fields_too_large``;
- a request target (path and query) longer than ``max_uri_bytes``: 414 ``uri_too_long``;
- a path that a service behind could read differently from the gateway: ``.`` or ``..``
  segments, encoded slashes, backslashes or dots (``%2F``, ``%5C``, ``%2E``), a backslash or an
  encoded NUL: 400 ``invalid_path``. The gateway routes and checks public routes on the path it
  sees; a path that normalises into another one would pass one check and reach another route;
- a query naming one parameter twice (``?owner=a&owner=b``): 400 ``ambiguous_query``, since
  frameworks disagree on which of the two wins (parameter pollution); checked by the proxy once
  the service is known, as a service may take a list by repeating a parameter the routing
  table names (``repeatable_parameters``).

Every answer, the gateway's own and the services', gets ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` and a Content-Security-Policy that
allows nothing (the API serves data, never pages), except ``/docs``, whose page loads the
documentation viewer's script and style from its CDN; ``Strict-Transport-Security`` only when
``hsts_max_age_seconds`` is set (a gateway behind plain HTTP must not send it).

CORS for the app's web views: a request whose ``Origin`` is one of ``cors_allowed_origins``
gets ``Access-Control-Allow-Origin`` naming it; a preflight (``OPTIONS`` with
``Access-Control-Request-Method``) is answered here, 204 for an allowed origin, 403
``origin_not_allowed`` otherwise, and never forwarded. Tokens travel in the Authorization
header, not in cookies, so credentials are not allowed.
"""

from collections.abc import Sequence
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.messages import Answer, Request, problem_answer, request_from_scope, send_answer
from gateway.settings import GatewaySettings
from servicekit.problems import DomainError, Forbidden, extension_members
from servicekit.security_headers import API_POLICY, COMMON_HEADERS, DOCS_POLICY

DOCS_PATH = "/docs"

#: Encodings of characters that would change the path's segments or escape them, lower case.
_FORBIDDEN_IN_PATH = (b"%2f", b"%5c", b"%2e", b"%00", b"\\")
#: Request headers a web view may send across origins.
_CORS_REQUEST_HEADERS = (
    b"authorization, content-type, idempotency-key, if-match, if-none-match, x-region-code, "
    b"x-request-id, traceparent"
)
_CORS_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
_CORS_EXPOSED = b"location, etag, retry-after, x-request-id, idempotency-replayed"
_CORS_NAMES = frozenset({b"access-control-allow-origin", b"access-control-expose-headers"})


class NotHttp(DomainError):
    """Refused by the gateway's HTTP server, which closes the connection."""

    status = 400
    code = "invalid_http"
    title = "The request is not valid HTTP/1.1"


class RequestTooSlow(DomainError):
    """Refused by the gateway's HTTP server: a head or a body that stops arriving."""

    status = 408
    code = "request_timeout"
    title = "The request did not arrive in time"


class HeadersTooLarge(DomainError):
    status = 431
    code = "request_header_fields_too_large"
    title = "Request headers too large"


class UriTooLong(DomainError):
    status = 414
    code = "uri_too_long"
    title = "Request target too long"


class InvalidPath(DomainError):
    status = 400
    code = "invalid_path"
    title = "The path has dot segments or encoded separators"


class AmbiguousQuery(DomainError):
    status = 400
    code = "ambiguous_query"
    title = "A query parameter is given more than once"
    members = extension_members(
        parameter={
            "type": "string",
            "description": "The parameter given twice",
            "examples": ["limit"],
        }
    )


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"
    title = "This origin may not call the API from a browser"


def check_query(query: bytes, repeatable: frozenset[str]) -> None:
    """Refuse a query naming a parameter twice, unless the route takes a list by it."""
    seen: set[str] = set()
    for part in query.split(b"&"):
        if not part:
            continue
        name = unquote_plus(part.partition(b"=")[0].decode("latin-1"))
        if name in seen and name not in repeatable:
            raise AmbiguousQuery(f"{name!r} is given more than once", parameter=name)
        seen.add(name)


def check_target(raw_path: bytes, query: bytes, *, max_uri_bytes: int) -> None:
    """Raise the problem the request target earns, if any (the query's parameters are checked
    once the route is known, by ``check_query``)."""
    if len(raw_path) + len(query) > max_uri_bytes:
        raise UriTooLong(f"at most {max_uri_bytes} bytes of path and query")
    if b"%" not in raw_path and b"\\" not in raw_path and b"/." not in raw_path:
        return  # the common path: nothing encoded, no segment starting with a dot
    lowered = raw_path.lower()
    for token in _FORBIDDEN_IN_PATH:
        if token in lowered:
            raise InvalidPath("send the path with plain '/' separators and no encoded dots")
    for segment in raw_path.split(b"/"):
        if segment == b"." or segment == b"..":
            raise InvalidPath("send the path without '.' or '..' segments")


class Edge:
    """The checks and headers above, on the gateway's own ``Request`` and ``Answer`` (the proxy
    path) and, through ``asgi``, around the gateway's operations app."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._max_header_bytes = settings.max_header_bytes
        self._max_uri_bytes = settings.max_uri_bytes
        self._origins = frozenset(origin.encode("latin-1") for origin in settings.cors_origins)
        self._cors_max_age = str(settings.cors_max_age_seconds).encode("latin-1")
        common = list(COMMON_HEADERS)
        if settings.hsts_max_age_seconds is not None:
            hsts = f"max-age={settings.hsts_max_age_seconds}; includeSubDomains"
            common.append((b"strict-transport-security", hsts.encode("latin-1")))
        self._api_headers = (*common, (b"content-security-policy", API_POLICY))
        self._docs_headers = (*common, (b"content-security-policy", DOCS_POLICY))
        self._api_names = frozenset(name for name, _ in self._api_headers)
        self._docs_names = frozenset(name for name, _ in self._docs_headers)

    def check(self, request: Request) -> Answer | None:
        """Raise the problem the request earns here, if any; the answer to a CORS preflight."""
        if request.header_bytes > self._max_header_bytes:
            raise HeadersTooLarge(f"at most {self._max_header_bytes} bytes of headers")
        check_target(request.raw_path, request.query, max_uri_bytes=self._max_uri_bytes)
        if request.method != "OPTIONS" or request.header(b"access-control-request-method") is None:
            return None
        origin = request.header(b"origin")
        if origin is None:
            return None
        if origin not in self._origins:
            raise OriginNotAllowed(f"{origin.decode('latin-1')!r} is not a known origin")
        return Answer(
            204,
            [
                (b"access-control-allow-methods", _CORS_METHODS),
                (b"access-control-allow-headers", _CORS_REQUEST_HEADERS),
                (b"access-control-max-age", self._cors_max_age),
            ],
        )

    def add_headers(self, request: Request, headers: list[tuple[bytes, bytes]]) -> None:
        """Add the security headers, and the CORS headers for an allowed origin, to an answer's
        ``headers``; a service's own value of one of them wins."""
        docs = request.path == DOCS_PATH
        added: Sequence[tuple[bytes, bytes]] = self._docs_headers if docs else self._api_headers
        added_names = self._docs_names if docs else self._api_names
        origin = request.header(b"origin") if self._origins else None
        allowed_origin = origin is not None and origin in self._origins
        if allowed_origin and origin is not None:
            added = (
                *added,
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", _CORS_EXPOSED),
            )
            added_names = added_names | _CORS_NAMES
        # (Rare: look at the service's names only when one of them is there.)
        if any(name.lower() in added_names for name, _ in headers):
            present = {name.lower() for name, _ in headers}
            headers.extend(header for header in added if header[0] not in present)
        else:
            headers.extend(added)
        if allowed_origin:
            # Added to any Vary of the service's: caches must key on both.
            headers.append((b"vary", b"Origin"))

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """``app`` behind the edge: its checks first, its headers on every answer."""

        async def edge(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            request = request_from_scope(scope, b"")

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", ()))
                    self.add_headers(request, headers)
                    message["headers"] = headers
                await send(message)

            try:
                preflight = self.check(request)
            except DomainError as error:
                preflight = problem_answer(error, request.path)
            if preflight is None:
                await app(scope, receive, send_with_headers)
            else:
                await send_answer(send_with_headers, preflight)

        return edge
