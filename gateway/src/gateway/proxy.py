"""The proxy: the platform's hottest path, a ``Request`` in and an ``Answer`` out, outside any
router (``Gateway.handle`` turns what it raises into a problem).

For each request: pick the service whose path prefix is the longest match, check the access
token unless the route is public (its signature, cached, and the revocation list; its type and
scopes against the route's, ``servicekit.auth.check_scopes``), count it
against its rate limits (``ratelimits``: in this process, or in Redis shared by every replica
when ``redis_url`` is set), find the
request's region and with it the service's pool (tier routing, see ``routing``), refuse a body
over the limit, forward method, path, query, headers and body to one of the pool's instances, and
answer with what it answered. Which instance of the pool, and what happens when it fails
(retries, ejection, circuit breaking), is the pool's business (``upstreams``).

The request's region comes from, in order: the ``X-Region-Code`` header (malformed: 400
``invalid_region_header``); the resource id in the path, for the service's region paths (a case
number starts with its region code); the token's ``region`` claim, or for staff and department
systems their department's region (``dept``); else none, the province.
List calls the routing table marks for fan-out go to every pool instead (``fanout``), unless
``X-Region-Code`` names one.

Headers that belong to one hop, and identity headers a client could forge, never cross; the
request id and trace context the gateway took or made (``Gateway.handle``) do, so the upstream
continues the same trace, with the client's address the gateway established
(``gateway.forwarded``), all three signed in ``OneVisit-Forwarded`` (``servicekit.forwarding``;
a copy the caller sent is dropped). ``X-Forwarded-For`` names the peer, after the chain a
trusted proxy sent; services believe only the signed header.

With tracing on (``OTLP_TRACES_ENDPOINT``, ``servicekit.tracing``) the upstream call is a CLIENT
span under the request's server span, and the ``traceparent`` sent (and signed) is that span's;
with it off, the proxy checks that once and sends the request's own, as before.
"""

from opentelemetry.trace import Tracer, get_current_span

from gateway.edge import check_query
from gateway.fanout import FanOutList
from gateway.forwarded import TrustedProxies
from gateway.messages import Answer, Request
from gateway.ratelimits import SharedTokenBuckets, TokenBuckets
from gateway.routing import FanOut, RoutingTable, ServiceRoute, region_prefix
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from servicekit.auth import (
    CLIENT_TOKEN_TYPES,
    Principal,
    TokenVerifier,
    authenticate,
    check_scopes,
)
from servicekit.context import current_request_id, outgoing_trace_headers
from servicekit.forwarding import HEADER_BYTES, Forwarding
from servicekit.pagination import Cursors
from servicekit.problems import DomainError, Forbidden, NotFound, PayloadTooLarge
from servicekit.regions import InvalidRegionCode
from servicekit.tracing import end_span, start_client_span, traceparent_of

#: RFC 9110 §7.6.1: meaningful for one connection only (with the names ``Connection`` lists).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

#: Request headers the gateway sets itself. ``Expect`` is dropped: the body is already read.
_SET_BY_GATEWAY = frozenset(
    {b"host", b"content-length", b"expect", b"x-request-id", b"traceparent", HEADER_BYTES}
)
#: Taken from the peer only when it is a trusted proxy (``trusted_proxies``).
_FORWARDING = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
#: Response headers the gateway's own server and the kit's middleware add.
_SET_ON_RESPONSE = frozenset(
    {b"content-length", b"date", b"server", b"x-request-id", b"traceparent"}
)

#: Requests the gateway may send again when an attempt fails; a POST may be when it carries an
#: Idempotency-Key (the service answers its repetition with the first answer).
_SAFE = frozenset({"GET", "HEAD"})

#: Only a verified token says who the caller is. A client sending a header that names a user is
#: trying to be someone else, so such headers never reach a service.
_IDENTITY_HEADERS = frozenset(
    {b"x-user-id", b"x-account-id", b"x-authenticated-user", b"x-forwarded-user", b"x-remote-user"}
)
_IDENTITY_PREFIXES = (b"x-principal-", b"x-identity-")


class RouteNotFound(NotFound):
    code = "route_not_found"
    title = "No service answers at this path"


class InvalidRegionCodeHeader(DomainError):
    status = 400
    code = "invalid_region_header"
    title = "The X-Region-Code header is not a region code"


class TokenTypeNotAllowed(Forbidden):
    code = "token_type_not_allowed"
    title = "This kind of token may not call this route"


def _connection_tokens(value: bytes) -> set[bytes]:
    return {token.strip().lower() for token in value.split(b",")}


class Proxy:
    def __init__(
        self,
        table: RoutingTable,
        upstreams: Upstreams,
        verifier: TokenVerifier,
        settings: GatewaySettings,
        shared_buckets: SharedTokenBuckets | None = None,
        *,
        trusted_proxies: TrustedProxies,
        forwarding: Forwarding,
        tracer: Tracer | None = None,
    ) -> None:
        """``tracer``: the gateway's, when tracing is on (the upstream call a CLIENT span)."""
        self._table = table
        self._upstreams = upstreams
        self._verifier = verifier
        self._max_body_bytes = settings.max_body_bytes
        self._trusted_proxies = trusted_proxies
        self._forwarding = forwarding
        self._buckets = TokenBuckets(table.rate_limits)
        self._shared_buckets = shared_buckets
        self._cursors = Cursors(settings.cursor_key_bytes)
        self._tracer = tracer

    async def __call__(self, request: Request) -> Answer:
        """The upstream's answer to the request, or the problem it earns raised."""
        path = request.path
        method = request.method
        route = self._table.match(path)
        if route is None:
            raise RouteNotFound()
        request.route = route.metrics_route
        if request.query:
            check_query(request.query, route.repeatable_parameters)
        headers, idempotency_key, region, client = self._outgoing_headers(request)
        principal = None
        if not route.is_public(method, path):
            principal = await self._authenticate(request)
            if not route.admits_token_type(principal.typ, method, path):
                raise TokenTypeNotAllowed(f"{principal.typ} tokens may not call this route")
            # Only tokens that may be limited by scope look the route's scopes up.
            if principal.client_id is not None or principal.typ in CLIENT_TOKEN_TYPES:
                check_scopes(principal, route.required_scopes(method, path))
        if self._shared_buckets is not None:
            await self._shared_buckets.take(
                route.route_class(method, path),
                user=principal.sub if principal is not None else None,
                address=client,
            )
        elif self._buckets:
            self._buckets.take(
                route.route_class(method, path),
                user=principal.sub if principal is not None else None,
                address=client,
            )
        listing = route.fan_out_for(method, path) if region is None else None
        if route.pools and region is None:
            region = _region_of(route, path, principal)
        if len(request.body) > self._max_body_bytes:
            raise PayloadTooLarge(f"the limit is {self._max_body_bytes} bytes")
        if self._tracer is None:
            trace = outgoing_trace_headers()
            self._add_trace_headers(
                headers, client, trace.get("x-request-id"), trace.get("traceparent")
            )
            answer = await self._send(
                request, route, listing, region, headers, principal, idempotency_key
            )
        elif not (serving := get_current_span()).is_recording():
            # A trace the sampler left out: no span to record, the upstream continues it as
            # left out (its flags), with the request's own span as the parent.
            self._add_trace_headers(headers, client, current_request_id(), traceparent_of(serving))
            answer = await self._send(
                request, route, listing, region, headers, principal, idempotency_key
            )
        else:
            answer = await self._send_traced(
                self._tracer,
                request,
                client,
                route,
                listing,
                region,
                headers,
                principal,
                idempotency_key,
            )
        return _answer(method, answer)

    async def _send(
        self,
        request: Request,
        route: ServiceRoute,
        listing: FanOut | None,
        region: str | None,
        headers: list[tuple[bytes, bytes]],
        principal: Principal | None,
        idempotency_key: bool,
    ) -> Answer:
        """The upstream's answer: every pool's for a fan-out ``listing``, else the region's."""
        if listing is not None:
            fan_out = FanOutList(listing, self._upstreams.pools_of(route.name), self._cursors)
            return await fan_out(
                request.raw_path.decode("latin-1"),
                request.query,
                headers,
                caller=principal.sub if principal is not None else "",
            )
        method = request.method
        return await self._upstreams.pool(route, region).forward(
            method,
            request.target.decode("latin-1"),
            headers,
            request.body,
            path=request.path,
            retryable=method in _SAFE or (idempotency_key and method == "POST"),
        )

    async def _send_traced(
        self,
        tracer: Tracer,
        request: Request,
        client: str | None,
        route: ServiceRoute,
        listing: FanOut | None,
        region: str | None,
        headers: list[tuple[bytes, bytes]],
        principal: Principal | None,
        idempotency_key: bool,
    ) -> Answer:
        """``_send`` as a CLIENT span under the request's, whose ``traceparent`` the upstream
        is sent (retries and a fan-out's calls included: one span for what the pool does)."""
        method = request.method
        call = start_client_span(tracer, f"{method} {route.name}", method)
        call.set_attribute("onevisit.upstream.service", route.name)
        if region is not None:
            call.set_attribute("onevisit.region", region)
        self._add_trace_headers(headers, client, current_request_id(), traceparent_of(call))
        status = 502
        try:
            answer = await self._send(
                request, route, listing, region, headers, principal, idempotency_key
            )
            status = answer.status
            return answer
        except DomainError as error:
            status = error.status
            raise
        finally:
            end_span(call, status)

    def _add_trace_headers(
        self,
        headers: list[tuple[bytes, bytes]],
        client: str | None,
        request_id_text: str | None,
        traceparent: str | None,
    ) -> None:
        """The request id and ``traceparent`` the upstream continues, and the gateway's
        signature over them and the client's address (``servicekit.forwarding``)."""
        request_id = request_id_text.encode("latin-1") if request_id_text else b""
        parent = traceparent.encode("latin-1") if traceparent else b""
        if request_id:
            headers.append((b"x-request-id", request_id))
        if parent:
            headers.append((b"traceparent", parent))
        signed = self._forwarding.sign(
            client.encode("latin-1") if client else b"", request_id, parent
        )
        headers.append((HEADER_BYTES, signed))

    def _outgoing_headers(
        self, request: Request
    ) -> tuple[list[tuple[bytes, bytes]], bool, str | None, str | None]:
        """The headers to forward (the trace's and the signature are added just before they
        are sent), whether the request carries an Idempotency-Key, the region its
        ``X-Region-Code`` names (a significant prefix), and the client's address."""
        headers: list[tuple[bytes, bytes]] = []
        connection: set[bytes] = set()
        trusted = self._trusted_proxies.trusts(request.client)
        forwarding: dict[bytes, bytes] = {}
        forwarded_for: list[bytes] = []
        host = b""
        idempotency_key = False
        region: str | None = None
        for name, value in request.headers:
            if name in HOP_BY_HOP:
                if name == b"connection":
                    connection |= _connection_tokens(value)
            elif name in _SET_BY_GATEWAY:
                if name == b"host":
                    host = value
                elif name == b"content-length" and _exceeds(value, self._max_body_bytes):
                    raise PayloadTooLarge(f"the limit is {self._max_body_bytes} bytes")
            elif name in _FORWARDING:
                if not trusted:
                    continue
                if name == b"x-forwarded-for":
                    forwarded_for.append(value)
                else:
                    forwarding[name] = value
            elif name in _IDENTITY_HEADERS or name.startswith(_IDENTITY_PREFIXES):
                continue
            else:
                if name == b"idempotency-key":
                    idempotency_key = True
                elif name == b"x-region-code":
                    if region is not None:
                        raise InvalidRegionCodeHeader("send X-Region-Code once")
                    region = _region_header(value)
                headers.append((name, value))
        if connection - HOP_BY_HOP:
            headers = [(name, value) for name, value in headers if name not in connection]
        client = self._trusted_proxies.client_of(request.client, forwarded_for)
        if request.client:
            forwarded_for.append(request.client.encode("latin-1"))
        if forwarded_for:
            headers.append((b"x-forwarded-for", b", ".join(forwarded_for)))
        forwarding.setdefault(b"x-forwarded-proto", request.scheme.encode("latin-1"))
        if host:
            forwarding.setdefault(b"x-forwarded-host", host)
        headers.extend(forwarding.items())
        return headers, idempotency_key, region, client

    async def _authenticate(self, request: Request) -> Principal:
        authorization = request.header(b"authorization")
        return await authenticate(
            self._verifier, authorization.decode("latin-1") if authorization is not None else None
        )


def _region_header(value: bytes) -> str:
    try:
        return region_prefix(value.decode("latin-1"))
    except InvalidRegionCode as exc:
        raise InvalidRegionCodeHeader(
            "send an official region code: 2, 4, 6, 9 or 12 digits, e.g. 330302"
        ) from exc


def _region_of(route: ServiceRoute, path: str, principal: Principal | None) -> str | None:
    """The region from the path's resource id, else the token's: its ``region`` claim (a
    citizen's), or the region of its department (``dept``, ``<region>-<type>``: staff and
    department systems work where their department is), else none."""
    region = route.region_in_path(path)
    if region is not None or principal is None:
        return region
    claimed = principal.region or (principal.dept or "").partition("-")[0]
    if not claimed:
        return None
    try:
        return region_prefix(claimed)
    except InvalidRegionCode:
        # A signed claim the identity service wrote: never malformed in practice, and the
        # province can serve anyone, so route there rather than refuse the caller.
        return None


def _exceeds(content_length: bytes, limit: int) -> bool:
    # A malformed length is the server's to refuse; the body read below is bounded regardless.
    return content_length.isdigit() and int(content_length) > limit


def _answer(method: str, answer: Answer) -> Answer:
    """The upstream's answer as it goes back: without what belongs to the upstream's hop, with
    the length of what is sent."""
    headers: list[tuple[bytes, bytes]] = []
    connection: set[bytes] = set()
    declared_length: bytes | None = None
    for raw_name, value in answer.headers:
        name = raw_name.lower()
        if name in HOP_BY_HOP:
            if name == b"connection":
                connection |= _connection_tokens(value)
        elif name in _SET_ON_RESPONSE:
            if name == b"content-length":
                declared_length = value
        else:
            headers.append((name, value))
    if connection - HOP_BY_HOP:
        headers = [(name, value) for name, value in headers if name not in connection]
    status = answer.status
    if method == "HEAD" or status == 304:
        # No body follows, but the length describes the representation: keep the upstream's.
        if declared_length is not None:
            headers.append((b"content-length", declared_length))
        return Answer(status, headers)
    if status >= 200 and status != 204:
        headers.append((b"content-length", str(len(answer.body)).encode("latin-1")))
    return Answer(status, headers, answer.body)
