"""The instances behind each service: one pooled, kept-alive aiohttp session per instance, used
in turn, and the faults a call to them meets, as the problems the gateway answers::

    UpstreamUnavailable (kit)  503 upstream_unavailable  nothing took the connection; Retry-After
    UpstreamTimeout            504 upstream_timeout      connected, but no answer in time
    BadGateway                 502 bad_gateway           the answer was not valid HTTP
    InvalidTarget              400 invalid_target        the request's path cannot be forwarded

A problem names the service, never an address: internal addresses stay inside.

The client is aiohttp, not the kit's httpx, by measurement (``python -m bench.gateway_proxy``):
on this path httpx's connection pool costs several times the CPU of the rest of the gateway.
"""

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from prometheus_client import Counter
from yarl import URL

from gateway.routing import DEFAULT_POOL, RoutingTable, ServiceRoute
from gateway.settings import GatewaySettings
from servicekit.auth import JwksSource
from servicekit.problems import DomainError, UpstreamUnavailable

Readiness = Literal["ready", "not_ready", "unreachable"]

UPSTREAM_FAULTS = Counter(
    "gateway_upstream_faults_total", "Upstream calls that failed", ["service", "code"]
)

#: The request goes out with the caller's headers only: aiohttp adds none of its own but
#: ``Host`` and the body's length.
_NO_DEFAULT_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})


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
    session: aiohttp.ClientSession


class UpstreamPool:
    """The instances of one pool of a service (its default pool or a region's), used in turn."""

    def __init__(
        self, route: ServiceRoute, base_urls: tuple[str, ...], settings: GatewaySettings
    ) -> None:
        self.route = route
        self._retry_after = str(settings.retry_after_seconds)
        self._instances = tuple(
            _Instance(base_url, self._session(route, settings)) for base_url in base_urls
        )
        self._turn = 0

    @staticmethod
    def _session(route: ServiceRoute, settings: GatewaySettings) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=settings.http_max_connections, limit_per_host=0, keepalive_timeout=30.0
        )
        return aiohttp.ClientSession(
            connector=connector,
            # ``connect`` covers waiting for a pooled connection as well as opening one: either
            # way the request has not been sent. ``sock_read``: how long the answer may take.
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=settings.http_connect_timeout_seconds,
                sock_connect=settings.http_connect_timeout_seconds,
                sock_read=route.timeout_seconds,
            ),
            # The sessions carry many citizens' requests: a cookie one upstream sets for one of
            # them must never be kept, let alone sent with someone else's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # The bytes on the wire pass through untouched, content-encoding and all.
            auto_decompress=False,
            skip_auto_headers=_NO_DEFAULT_HEADERS,
        )

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
        outgoing = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in headers]
        for _attempt in range(2 if retry_connect else 1):
            instance = self._next()
            try:
                # ``encoded``: the path and query go out exactly as the client sent them.
                url = URL(instance.base_url + target, encoded=True)
            except ValueError as exc:
                raise InvalidTarget() from exc
            try:
                return await self._exchange(instance.session, method, url, outgoing, body)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                continue
            except TimeoutError as exc:
                detail = f"the {name} service did not answer within {self.route.timeout_seconds} s"
                raise self._fault(UpstreamTimeout(detail, service=name)) from exc
            except aiohttp.InvalidURL as exc:
                raise InvalidTarget() from exc
            except aiohttp.ClientError as exc:
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
    async def _exchange(
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> UpstreamResponse:
        async with session.request(
            method, url, headers=headers, data=body or None, allow_redirects=False
        ) as response:
            content = await response.read()
            return UpstreamResponse(response.status, list(response.raw_headers), content)

    async def _get_json(
        self, instance: _Instance, path: str, *, timeout_seconds: float
    ) -> tuple[int, Any]:
        """Status and JSON body of a GET the gateway makes itself (not a forwarded one)."""
        timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        async with instance.session.get(instance.base_url + path, timeout=timeout) as response:
            if response.status != 200:
                return response.status, None
            return 200, await response.json(content_type=None)

    async def readiness(self, *, timeout_seconds: float) -> Readiness:
        """Ready only when every instance's own ``/readyz`` answers 200."""

        async def ask(instance: _Instance) -> Readiness:
            try:
                status, _ = await self._get_json(
                    instance, "/readyz", timeout_seconds=timeout_seconds
                )
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return "unreachable"
            return "ready" if status == 200 else "not_ready"

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
                status, document = await self._get_json(
                    instance, path, timeout_seconds=timeout_seconds
                )
            except (aiohttp.ClientError, TimeoutError, ValueError):
                continue
            if status == 200:
                return document
        return None

    def jwks_source(self, path: str, *, timeout_seconds: float) -> JwksSource:
        """The signing keys from this service's instances, asked in turn until one answers."""

        async def fetch() -> dict[str, Any]:
            for instance in self._instances:
                try:
                    status, keys = await self._get_json(
                        instance, path, timeout_seconds=timeout_seconds
                    )
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    continue
                if status == 200 and isinstance(keys, dict):
                    return keys
            raise UpstreamUnavailable("the signing keys could not be fetched")

        return fetch

    async def aclose(self) -> None:
        for instance in self._instances:
            await instance.session.close()


class Upstreams(Mapping[str, UpstreamPool]):
    """Every service's pools: by service name, its default pool; ``pool`` for a region's."""

    def __init__(self, table: RoutingTable, settings: GatewaySettings) -> None:
        self._pools: dict[str, dict[str, UpstreamPool]] = {
            route.name: {
                DEFAULT_POOL: UpstreamPool(route, route.upstreams, settings),
                **{
                    region: UpstreamPool(route, base_urls, settings)
                    for region, base_urls in route.pools.items()
                },
            }
            for route in table.services
        }

    def __getitem__(self, name: str) -> UpstreamPool:
        return self._pools[name][DEFAULT_POOL]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)

    def pools_of(self, name: str) -> Mapping[str, UpstreamPool]:
        """Every pool of the service, by region prefix (``DEFAULT_POOL``: the province's)."""
        return self._pools[name]

    def pool(self, route: ServiceRoute, region: str | None) -> UpstreamPool:
        """The pool that serves ``region`` (a significant prefix; None: the province)."""
        return self._pools[route.name][route.pool_for(region)]

    async def readiness(self, *, timeout_seconds: float) -> dict[str, Readiness]:
        """Per service: ready only when every instance of every pool of it is."""
        names = sorted(self._pools)

        async def service(name: str) -> Readiness:
            answers = await asyncio.gather(
                *(
                    pool.readiness(timeout_seconds=timeout_seconds)
                    for pool in self._pools[name].values()
                )
            )
            if "unreachable" in answers:
                return "unreachable"
            if "not_ready" in answers:
                return "not_ready"
            return "ready"

        answers = await asyncio.gather(*(service(name) for name in names))
        return dict(zip(names, answers, strict=True))

    async def aclose(self) -> None:
        for pools in self._pools.values():
            for pool in pools.values():
                await pool.aclose()
