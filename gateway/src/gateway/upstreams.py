"""The instances behind each service: one pooled, kept-alive client per instance, used in turn,
and the faults a call to them meets, as the problems the gateway answers::

    UpstreamUnavailable (kit)  503 upstream_unavailable  nothing took the connection; Retry-After
    UpstreamTimeout            504 upstream_timeout      connected, but no answer in time
    BadGateway                 502 bad_gateway           the answer was not valid HTTP
    InvalidTarget              400 invalid_target        the request's path cannot be forwarded

A problem names the service, never an address: internal addresses stay inside.
"""

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Literal

import httpx
from prometheus_client import Counter

from gateway.routing import RoutingTable, ServiceRoute
from gateway.settings import GatewaySettings
from servicekit.auth import JwksSource, http_jwks_source
from servicekit.http import make_http_client
from servicekit.problems import DomainError, UpstreamUnavailable

Readiness = Literal["ready", "not_ready", "unreachable"]

UPSTREAM_FAULTS = Counter(
    "gateway_upstream_faults_total", "Upstream calls that failed", ["service", "code"]
)

# The clients carry many citizens' requests: a cookie one upstream sets for one of them must
# never be kept, let alone sent with someone else's request.
_NO_COOKIES = DefaultCookiePolicy(allowed_domains=[])


class UpstreamTimeout(DomainError):
    status = 504
    code = "upstream_timeout"
    title = "A service this request needs did not answer in time"


class BadGateway(DomainError):
    status = 502
    code = "bad_gateway"
    title = "A service this request needs answered with something that is not HTTP"


class InvalidTarget(DomainError):
    status = 400
    code = "invalid_target"
    title = "The request's path or query cannot be forwarded"


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    #: As received; the proxy drops what must not cross a hop.
    headers: list[tuple[bytes, bytes]]
    #: The bytes on the wire (still content-encoded), so that they pass through untouched.
    body: bytes


@dataclass(frozen=True, slots=True)
class _Instance:
    base_url: str
    client: httpx.AsyncClient


class UpstreamPool:
    """The instances of one service, used in turn."""

    def __init__(self, route: ServiceRoute, settings: GatewaySettings) -> None:
        self.route = route
        self._retry_after = str(settings.retry_after_seconds)
        self._instances = tuple(
            _Instance(base_url, self._client(base_url, route, settings))
            for base_url in route.upstreams
        )
        self._turn = 0

    @staticmethod
    def _client(base_url: str, route: ServiceRoute, settings: GatewaySettings) -> httpx.AsyncClient:
        client = make_http_client(
            base_url,
            timeout_seconds=route.timeout_seconds,
            connect_timeout_seconds=settings.http_connect_timeout_seconds,
            max_connections=settings.http_max_connections,
        )
        client.cookies.jar.set_policy(_NO_COOKIES)
        return client

    def _next(self) -> _Instance:
        turn = self._turn
        self._turn = (turn + 1) % len(self._instances)
        return self._instances[turn]

    async def forward(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        retry_connect: bool,
    ) -> UpstreamResponse:
        """Send the request to the next instance; when nothing accepts the connection (so the
        request was never sent) and ``retry_connect``, once more to the instance after it."""
        name = self.route.name
        for _attempt in range(2 if retry_connect else 1):
            instance = self._next()
            try:
                # A bare Request, not client.build_request: the client's default headers
                # (Accept-Encoding above all) must not be added to what the caller sent.
                request = httpx.Request(
                    method, instance.base_url + target, headers=headers, content=body
                )
            except httpx.InvalidURL as exc:
                raise InvalidTarget() from exc
            try:
                return await self._exchange(instance.client, request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
            except httpx.PoolTimeout as exc:
                raise self._fault(UpstreamUnavailable(f"the {name} service is saturated")) from exc
            except httpx.TimeoutException as exc:
                detail = f"the {name} service did not answer within {self.route.timeout_seconds} s"
                raise self._fault(UpstreamTimeout(detail, service=name)) from exc
            except httpx.TransportError as exc:
                detail = f"the {name} service's answer was cut off or malformed"
                raise self._fault(BadGateway(detail, service=name)) from exc
        raise self._fault(UpstreamUnavailable(f"the {name} service could not be reached"))

    def _fault(self, fault: DomainError) -> DomainError:
        UPSTREAM_FAULTS.labels(self.route.name, fault.code).inc()
        fault.extensions.setdefault("service", self.route.name)
        if isinstance(fault, UpstreamUnavailable):
            fault.headers["Retry-After"] = self._retry_after
        return fault

    @staticmethod
    async def _exchange(client: httpx.AsyncClient, request: httpx.Request) -> UpstreamResponse:
        response = await client.send(request, stream=True)
        try:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        return UpstreamResponse(response.status_code, response.headers.raw, body)

    async def readiness(self, *, timeout_seconds: float) -> Readiness:
        """Ready only when every instance's own ``/readyz`` answers 200."""

        async def ask(instance: _Instance) -> Readiness:
            try:
                response = await instance.client.get("/readyz", timeout=timeout_seconds)
            except httpx.HTTPError:
                return "unreachable"
            return "ready" if response.status_code == 200 else "not_ready"

        answers = await asyncio.gather(*(ask(instance) for instance in self._instances))
        if "unreachable" in answers:
            return "unreachable"
        if "not_ready" in answers:
            return "not_ready"
        return "ready"

    async def fetch_json(self, path: str, *, timeout_seconds: float) -> Any | None:
        """The JSON document at ``path`` from the first instance that serves it, else None."""
        for instance in self._instances:
            try:
                response = await instance.client.get(path, timeout=timeout_seconds)
                if response.status_code == 200:
                    return response.json()
            except (httpx.HTTPError, ValueError):
                continue
        return None

    def jwks_source(self, path: str) -> JwksSource:
        """The signing keys from this service's instances, asked in turn until one answers."""
        sources = [
            http_jwks_source(instance.client, instance.base_url + path)
            for instance in self._instances
        ]

        async def fetch() -> dict[str, Any]:
            for source in sources[:-1]:
                try:
                    return await source()
                except UpstreamUnavailable:
                    continue
            return await sources[-1]()

        return fetch

    async def aclose(self) -> None:
        for instance in self._instances:
            await instance.client.aclose()


class Upstreams(Mapping[str, UpstreamPool]):
    """Every service's pool, by service name."""

    def __init__(self, table: RoutingTable, settings: GatewaySettings) -> None:
        self._pools = {route.name: UpstreamPool(route, settings) for route in table.services}

    def __getitem__(self, name: str) -> UpstreamPool:
        return self._pools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)

    async def readiness(self, *, timeout_seconds: float) -> dict[str, Readiness]:
        names = sorted(self._pools)
        answers = await asyncio.gather(
            *(self._pools[name].readiness(timeout_seconds=timeout_seconds) for name in names)
        )
        return dict(zip(names, answers, strict=True))

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
