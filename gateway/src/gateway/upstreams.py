"""The instances behind each service and how the gateway treats them: one pooled, kept-alive
aiohttp session per instance, the least busy instance in rotation for each request, active health
checks, passive ejection of failing instances, a circuit breaker per pool, and retries within a
budget (the policy is the routing table's ``Resilience``). The faults a call meets are answered
as problems::

    UpstreamUnavailable (kit)  503 upstream_unavailable  no instance in rotation, or none took
                                                         the connection; Retry-After
    UpstreamOverloaded         503 upstream_overloaded   the pool holds all the requests it may
                                                         (circuit breaker); Retry-After
    UpstreamTimeout            504 upstream_timeout      connected, but no answer in time
    BadGateway                 502 bad_gateway           the answer was not valid HTTP
    InvalidTarget              400 invalid_target        the request's path cannot be forwarded

A problem names the service, never an address: internal addresses stay inside (the metrics name
an instance by its position in its pool, for the same reason).

A request safe to repeat (``retryable``: GET, HEAD, a POST with an Idempotency-Key) is sent
again when its attempt failed without an answer (connection refused or not opened in time,
answer cut off or malformed) or was answered 502, 503 or 504: to an instance not tried yet when
the pool has one, after a backoff with full jitter, at most ``max_retries`` times, and only
while the pool's requests that are retrying stay within its budget (``retry_budget_percent`` of
its requests in flight, never less than ``retry_budget_min_concurrency``), so that a failing
pool is not hammered. A timeout is not retried: the route's timeout bounds the caller's wait.

The request path costs integer arithmetic and no lock: the state of an instance changes in the
event loop's single thread, and the metrics are plain counters read when scraped.

Forwarded requests go by ``wire`` (a small client on ``httptools``), chosen by measurement
(``python -m bench.gateway_proxy``): httpx's pool cost several times the CPU of the rest of the
gateway, aiohttp's client ~90-100 µs per request. The gateway's own reads (health checks, the
JWKS, OpenAPI documents) stay on aiohttp.
"""

import asyncio
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import aiohttp
import structlog
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from yarl import URL

from gateway.messages import Answer
from gateway.routing import DEFAULT_POOL, Resilience, RoutingTable, ServiceRoute
from gateway.settings import GatewaySettings
from gateway.wire import AnswerFailed, ConnectFailed, ConnectionPool
from servicekit.auth import JwksSource
from servicekit.problems import DomainError, UpstreamUnavailable

log = structlog.get_logger("gateway.upstreams")

Readiness = Literal["ready", "not_ready", "unreachable"]

UPSTREAM_FAULTS = Counter(
    "gateway_upstream_faults_total", "Upstream calls that failed", ["service", "code"]
)

#: The request goes out with the caller's headers only: aiohttp adds none of its own but
#: ``Host`` and the body's length.
_NO_DEFAULT_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
#: An upstream's answers that say another instance might do better.
_RETRY_STATUSES = frozenset({502, 503, 504})
#: Health checks in flight at once, whatever the number of instances.
_PROBES_AT_ONCE = 32
#: The metrics' name of a service's default pool.
PROVINCE = "province"

#: How an exchange with an instance ended (indexes into ``_InstanceCounts.outcomes``).
OK, SERVER_ERROR, CONNECT_FAILURE, TIMEOUT, BAD_ANSWER = range(5)
OUTCOMES = ("ok", "server_error", "connect_failure", "timeout", "bad_answer")


class UpstreamOverloaded(DomainError):
    status = 503
    code = "upstream_overloaded"
    title = "A service this request needs has as many requests in hand as it may take"


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


class _InstanceCounts:
    __slots__ = ("ejections", "in_rotation", "outcomes")

    def __init__(self) -> None:
        self.outcomes = [0] * len(OUTCOMES)
        self.ejections = 0
        self.in_rotation = True


class _PoolCounts:
    __slots__ = ("breaker_rejections", "retries", "retries_denied")

    def __init__(self) -> None:
        self.breaker_rejections = 0
        self.retries = 0
        self.retries_denied = 0


class UpstreamStatistics(Collector):
    """Exchanges per instance by outcome, ejections, rotation, breaker rejections and retries:
    plain integers on the request path, turned into Prometheus metrics when scraped. Labelled
    by service, pool (``province`` or the region prefix) and instance (its position in the
    pool): as many series as the routing table has instances. Kept across reloads, so that a
    counter of an instance that stays only grows."""

    def __init__(self) -> None:
        self._instances: dict[tuple[str, str, str], _InstanceCounts] = {}
        self._pools: dict[tuple[str, str], _PoolCounts] = {}

    def instance(self, service: str, pool: str, position: int) -> _InstanceCounts:
        return self._instances.setdefault((service, pool, str(position)), _InstanceCounts())

    def pool(self, service: str, pool: str) -> _PoolCounts:
        return self._pools.setdefault((service, pool), _PoolCounts())

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        return self._families()

    def _families(self) -> list[Metric]:
        instance_labels = ["service", "pool", "instance"]
        exchanges = CounterMetricFamily(
            "gateway_upstream_requests",
            "Exchanges with an upstream instance, by outcome",
            labels=[*instance_labels, "outcome"],
        )
        ejections = CounterMetricFamily(
            "gateway_upstream_ejections",
            "Times an instance was ejected for failing",
            labels=instance_labels,
        )
        rotation = GaugeMetricFamily(
            "gateway_upstream_in_rotation",
            "1 while an instance takes requests: healthy and not ejected",
            labels=instance_labels,
        )
        rejections = CounterMetricFamily(
            "gateway_upstream_breaker_rejections",
            "Requests refused at once because the pool held all it may",
            labels=["service", "pool"],
        )
        retries = CounterMetricFamily(
            "gateway_upstream_retries",
            "Attempts sent again after a failure",
            labels=["service", "pool"],
        )
        denied = CounterMetricFamily(
            "gateway_upstream_retries_denied",
            "Retries not sent because the pool's retry budget was spent",
            labels=["service", "pool"],
        )
        for key, counts in self._instances.items():
            for outcome, value in zip(OUTCOMES, counts.outcomes, strict=True):
                exchanges.add_metric([*key, outcome], value)
            ejections.add_metric(list(key), counts.ejections)
            rotation.add_metric(list(key), 1 if counts.in_rotation else 0)
        for pool_key, pool_counts in self._pools.items():
            rejections.add_metric(list(pool_key), pool_counts.breaker_rejections)
            retries.add_metric(list(pool_key), pool_counts.retries)
            denied.add_metric(list(pool_key), pool_counts.retries_denied)
        return [exchanges, ejections, rotation, rejections, retries, denied]


STATISTICS = UpstreamStatistics()
REGISTRY.register(STATISTICS)


def ejection_seconds(ejections: int, policy: Resilience) -> float:
    """How long the ``ejections``-th ejection in a row lasts."""
    return min(policy.base_ejection_seconds * ejections, policy.max_ejection_seconds)


class _Instance:
    """One instance of a pool and what the gateway knows of it."""

    __slots__ = (
        "base_url",
        "connections",
        "consecutive_failures",
        "counts",
        "ejected",
        "ejections",
        "healthy",
        "outstanding",
        "position",
        "probe_failures",
        "probe_successes",
        "returned_at",
        "returning",
        "seen_healthy",
        "session",
    )

    def __init__(
        self,
        base_url: str,
        position: int,
        session: aiohttp.ClientSession,
        connections: ConnectionPool,
        counts: _InstanceCounts,
    ) -> None:
        self.base_url = base_url
        self.position = position
        #: The gateway's own reads (JSON documents); forwarded requests go by ``connections``.
        self.session = session
        self.connections = connections
        self.counts = counts
        #: Requests sent to it and not answered yet.
        self.outstanding = 0
        #: Health checks: in rotation until they say otherwise.
        self.healthy = True
        self.seen_healthy = False
        self.probe_failures = 0
        self.probe_successes = 0
        #: Passive ejection.
        self.consecutive_failures = 0
        self.ejected = False
        self.ejections = 0
        self.returned_at = 0.0
        self.returning: asyncio.TimerHandle | None = None


class _Prober:
    """Health checks and readiness probes: a session of their own, so that a pool whose
    connections are all busy does not make its instances look dead."""

    def __init__(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=_PROBES_AT_ONCE, keepalive_timeout=30.0),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._at_once = asyncio.Semaphore(_PROBES_AT_ONCE)

    async def probe(self, url: str, *, timeout_seconds: float) -> int | None:
        """The status the instance answers ``url`` with; None when it does not answer."""
        async with self._at_once:
            try:
                async with self._session.get(
                    url, timeout=aiohttp.ClientTimeout(total=timeout_seconds), allow_redirects=False
                ) as response:
                    await response.read()
                    return response.status
            except (aiohttp.ClientError, TimeoutError):
                return None

    async def aclose(self) -> None:
        await self._session.close()


def _connection_pool(base_url: str, settings: GatewaySettings) -> ConnectionPool:
    url = URL(base_url)
    if url.scheme != "http" or not url.host or url.path not in ("", "/"):
        raise ValueError(f"an upstream is http://host:port with no path, not {base_url!r}")
    return ConnectionPool(
        url.host,
        url.port or 80,
        limit=settings.http_max_connections,
        connect_timeout=settings.http_connect_timeout_seconds,
    )


_ENDS_REQUEST_LINE = re.compile("[ \r\n\t\x00]")


def _wire_target(target: str) -> bytes:
    """The path and query as the client sent them; nothing that would end the request line."""
    if not target.startswith("/") or _ENDS_REQUEST_LINE.search(target):
        raise InvalidTarget()
    try:
        return target.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise InvalidTarget() from exc


class UpstreamPool:
    """The instances of one pool of a service (its default pool or a region's)."""

    def __init__(
        self,
        route: ServiceRoute,
        region: str,
        base_urls: tuple[str, ...],
        settings: GatewaySettings,
        prober: _Prober,
    ) -> None:
        self.route = route
        self.region = region
        self.label = region or PROVINCE
        self._policy = policy = route.resilience
        self._prober = prober
        self._retry_after = str(settings.retry_after_seconds)
        self._connections_per_instance = settings.http_max_connections
        self._instances = tuple(
            _Instance(
                base_url,
                position,
                self._session(settings),
                _connection_pool(base_url, settings),
                STATISTICS.instance(route.name, self.label, position),
            )
            for position, base_url in enumerate(base_urls)
        )
        self._counts = STATISTICS.pool(route.name, self.label)
        self._retry_share = policy.retry_budget_percent / 100
        self._turn = 0
        #: Requests in this pool (sent, waiting for a connection, or backing off to retry).
        self._outstanding = 0
        #: Of those, the ones that are retrying.
        self._retrying = 0
        self._rotation: tuple[_Instance, ...] = ()
        self._admit_limit = 0
        self._rearrange()

    @staticmethod
    def _session(settings: GatewaySettings) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=settings.http_max_connections, limit_per_host=0, keepalive_timeout=30.0
        )
        return aiohttp.ClientSession(
            connector=connector,
            # The sessions carry many citizens' requests: a cookie one upstream sets for one of
            # them must never be kept, let alone sent with someone else's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # The bytes on the wire pass through untouched, content-encoding and all.
            auto_decompress=False,
            skip_auto_headers=_NO_DEFAULT_HEADERS,
        )

    # -- rotation ------------------------------------------------------------------------------

    def _rearrange(self) -> None:
        """Recompute the instances in rotation and the breaker's limit after a state change."""
        for instance in self._instances:
            instance.counts.in_rotation = instance.healthy and not instance.ejected
        self._rotation = tuple(i for i in self._instances if i.counts.in_rotation)
        policy = self._policy
        # Beyond the connections its instances may open, a request waits for one: pending.
        self._admit_limit = min(
            policy.max_requests,
            len(self._rotation) * self._connections_per_instance + policy.max_pending_requests,
        )

    def _pick(self, tried: list[_Instance] | None) -> _Instance | None:
        """The instance in rotation with the fewest requests outstanding, not tried yet when
        there is one; ties go round in turn."""
        rotation = self._rotation
        count = len(rotation)
        if count <= 1:
            return rotation[0] if count else None
        start = self._turn % count
        if tried is None:  # a retry leaves the turn to the next request
            self._turn = start + 1
        best: _Instance | None = None
        for offset in range(count):
            instance = rotation[(start + offset) % count]
            if tried is not None and instance in tried:
                continue
            if best is None or instance.outstanding < best.outstanding:
                best = instance
        if best is None:  # every one was tried: the least busy again
            best = min(rotation, key=lambda instance: instance.outstanding)
        return best

    # -- passive ejection ----------------------------------------------------------------------

    def _succeeded(self, instance: _Instance) -> None:
        instance.counts.outcomes[OK] += 1
        instance.consecutive_failures = 0

    def _failed(self, instance: _Instance, outcome: int) -> None:
        instance.counts.outcomes[outcome] += 1
        instance.consecutive_failures += 1
        if (
            instance.consecutive_failures >= self._policy.consecutive_failures_to_eject
            and not instance.ejected
        ):
            self._eject(instance)

    def _eject(self, instance: _Instance) -> None:
        policy = self._policy
        ejected = sum(1 for other in self._instances if other.ejected)
        if (ejected + 1) * 100 > policy.max_ejection_percent * len(self._instances):
            return
        if self._rotation == (instance,):
            return  # the last one in rotation: ejecting it would refuse what it may still serve
        loop = asyncio.get_running_loop()
        now = loop.time()
        if instance.ejections:
            # Each quiet base period since it came back forgives one earlier ejection.
            quiet = int((now - instance.returned_at) / policy.base_ejection_seconds)
            instance.ejections = max(0, instance.ejections - quiet)
        instance.ejections += 1
        seconds = ejection_seconds(instance.ejections, policy)
        instance.ejected = True
        instance.consecutive_failures = 0
        instance.counts.ejections += 1
        instance.returning = loop.call_later(seconds, self._return, instance)
        self._rearrange()
        log.warning(
            "upstream_instance_ejected",
            upstream_service=self.route.name,
            pool=self.label,
            instance=instance.position,
            seconds=seconds,
        )

    def _return(self, instance: _Instance) -> None:
        instance.ejected = False
        instance.returning = None
        instance.returned_at = asyncio.get_running_loop().time()
        self._rearrange()
        log.info(
            "upstream_instance_returned",
            upstream_service=self.route.name,
            pool=self.label,
            instance=instance.position,
        )

    # -- active health checks ------------------------------------------------------------------

    def _probed(self, instance: _Instance, ready: bool) -> None:
        policy = self._policy
        if ready:
            instance.probe_failures = 0
            instance.probe_successes += 1
            if not instance.healthy and (
                not instance.seen_healthy or instance.probe_successes >= policy.healthy_threshold
            ):
                instance.healthy = True
                self._rearrange()
                log.info(
                    "upstream_instance_healthy",
                    upstream_service=self.route.name,
                    pool=self.label,
                    instance=instance.position,
                )
            instance.seen_healthy = True
        else:
            instance.probe_successes = 0
            instance.probe_failures += 1
            if instance.healthy and instance.probe_failures >= policy.unhealthy_threshold:
                instance.healthy = False
                self._rearrange()
                log.warning(
                    "upstream_instance_unhealthy",
                    upstream_service=self.route.name,
                    pool=self.label,
                    instance=instance.position,
                )

    async def check_health(self, *, timeout_seconds: float | None = None) -> list[int | None]:
        """Ask every instance's health path once and take the answers into account: an
        instance that does not answer, or answers 5xx (the services' ``/readyz`` answers 503
        while they cannot serve), fails the check; one that answers at all otherwise passes
        (a 404: it publishes no readiness, but it is up)."""
        policy = self._policy
        timeout = timeout_seconds or policy.health_check_timeout_seconds
        answers = await asyncio.gather(
            *(
                self._prober.probe(
                    instance.base_url + policy.health_check_path, timeout_seconds=timeout
                )
                for instance in self._instances
            )
        )
        for instance, status in zip(self._instances, answers, strict=True):
            self._probed(instance, status is not None and status < 500)
        return answers

    async def readiness(self, *, timeout_seconds: float) -> Readiness:
        """Ready when one instance at least answers its health path with 200."""
        answers = await self.check_health(timeout_seconds=timeout_seconds)
        if 200 in answers:
            return "ready"
        if None in answers:
            return "unreachable"
        return "not_ready"

    # -- forwarding ----------------------------------------------------------------------------

    async def forward(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        path: str,
        retryable: bool,
    ) -> Answer:
        """Send the request to the least busy instance in rotation; when it fails and the
        request is ``retryable``, again within the retry policy (see the module)."""
        if self._outstanding >= self._admit_limit:
            raise self._overloaded() if self._rotation else self._unavailable()
        read_seconds = self.route.timeout_for(path)
        wire_target = _wire_target(target)
        tried: list[_Instance] | None = None
        self._outstanding += 1
        try:
            while True:
                instance = self._pick(tried)
                if instance is None:
                    raise self._unavailable()
                answer = await self._exchange(
                    instance, method, wire_target, headers, body, read_seconds
                )
                if isinstance(answer, Answer) and answer.status not in _RETRY_STATUSES:
                    return answer
                if not retryable or not self._may_retry(tried):
                    if isinstance(answer, Answer):
                        return answer  # the upstream's own answer, passed on
                    raise self._fault(answer)
                if tried is None:
                    tried = [instance]
                    self._retrying += 1
                else:
                    tried.append(instance)
                self._counts.retries += 1
                await asyncio.sleep(self._backoff(len(tried)))
        finally:
            self._outstanding -= 1
            if tried is not None:
                self._retrying -= 1

    def _may_retry(self, tried: list[_Instance] | None) -> bool:
        policy = self._policy
        if (len(tried) if tried is not None else 0) >= policy.max_retries:
            return False
        # This request, when retrying already, is one of those the budget counts.
        others = self._retrying - (1 if tried is not None else 0)
        allowed = max(policy.retry_budget_min_concurrency, self._retry_share * self._outstanding)
        if others >= allowed:
            self._counts.retries_denied += 1
            return False
        return True

    def _backoff(self, retry: int) -> float:
        """Full jitter: anywhere up to the exponentially growing cap."""
        policy = self._policy
        cap = min(
            policy.retry_backoff_max_seconds, policy.retry_backoff_base_seconds * 2 ** (retry - 1)
        )
        return random.uniform(0, cap)

    async def _exchange(
        self,
        instance: _Instance,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        read_seconds: float,
    ) -> Answer | DomainError:
        """One attempt: the answer, or the fault of a failure that another attempt might not
        meet; a fault that is final is raised."""
        name = self.route.name
        instance.outstanding += 1
        try:
            answer = await instance.connections.request(
                method, target, headers, body, read_seconds=read_seconds
            )
        except ConnectFailed:
            self._failed(instance, CONNECT_FAILURE)
            return UpstreamUnavailable(f"the {name} service could not be reached")
        except TimeoutError as exc:
            self._failed(instance, TIMEOUT)
            detail = f"the {name} service did not answer within {read_seconds} s"
            raise self._fault(UpstreamTimeout(detail)) from exc
        except AnswerFailed:
            self._failed(instance, BAD_ANSWER)
            return BadGateway(f"the {name} service's answer was cut off or malformed")
        finally:
            instance.outstanding -= 1
        if answer.status >= 500:
            self._failed(instance, SERVER_ERROR)
        else:
            self._succeeded(instance)
        return answer

    def _unavailable(self) -> DomainError:
        return self._fault(
            UpstreamUnavailable(f"no instance of the {self.route.name} service is up")
        )

    def _overloaded(self) -> DomainError:
        self._counts.breaker_rejections += 1
        return self._fault(
            UpstreamOverloaded(f"the {self.route.name} service has all the requests it may take")
        )

    def _fault(self, fault: DomainError) -> DomainError:
        UPSTREAM_FAULTS.labels(self.route.name, fault.code).inc()
        fault.extensions.setdefault("service", self.route.name)
        if fault.status == 503:
            fault.headers["Retry-After"] = self._retry_after
        return fault

    # -- the gateway's own reads ---------------------------------------------------------------

    async def _get_json(
        self, instance: _Instance, path: str, *, timeout_seconds: float
    ) -> tuple[int, Any]:
        """Status and JSON body of a GET the gateway makes itself (not a forwarded one)."""
        timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        async with instance.session.get(instance.base_url + path, timeout=timeout) as response:
            if response.status != 200:
                return response.status, None
            return 200, await response.json(content_type=None)

    def _in_rotation_first(self) -> list[_Instance]:
        rotation = self._rotation
        return [*rotation, *(i for i in self._instances if i not in rotation)]

    async def fetch_json(self, path: str, *, timeout_seconds: float) -> Any | None:
        """The JSON document at ``path`` from the first instance that serves it, else None."""
        for instance in self._in_rotation_first():
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
            keys = await self.fetch_json(path, timeout_seconds=timeout_seconds)
            if isinstance(keys, dict):
                return keys
            raise UpstreamUnavailable("the signing keys could not be fetched")

        return fetch

    async def aclose(self) -> None:
        for instance in self._instances:
            if instance.returning is not None:
                instance.returning.cancel()
            instance.connections.close()
            await instance.session.close()


class Upstreams(Mapping[str, UpstreamPool]):
    """Every service's pools: by service name, its default pool; ``pool`` for a region's."""

    def __init__(self, table: RoutingTable, settings: GatewaySettings) -> None:
        self._prober = _Prober()
        self._pools: dict[str, dict[str, UpstreamPool]] = {
            route.name: {
                DEFAULT_POOL: UpstreamPool(
                    route, DEFAULT_POOL, route.upstreams, settings, self._prober
                ),
                **{
                    region: UpstreamPool(route, region, base_urls, settings, self._prober)
                    for region, base_urls in route.pools.items()
                },
            }
            for route in table.services
        }
        self._routes = {route.name: route for route in table.services}
        self._health_checks: list[asyncio.Task[None]] = []

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

    def start_health_checks(self) -> None:
        """One task per service, asking each of its instances at the service's interval."""
        for name, pools in self._pools.items():
            interval = self._routes[name].resilience.health_check_interval_seconds
            task = asyncio.get_running_loop().create_task(
                self._check_health(name, list(pools.values()), interval)
            )
            self._health_checks.append(task)

    @staticmethod
    async def _check_health(name: str, pools: Sequence[UpstreamPool], interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.gather(*(pool.check_health() for pool in pools))
            except Exception:
                # A bug here must not end the checks for good: the next round tries again.
                log.exception("upstream_health_check_failed", upstream_service=name)

    async def readiness(self, *, timeout_seconds: float) -> dict[str, Readiness]:
        """Per service: ready when each of its pools has an instance ready."""
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
        for task in self._health_checks:
            task.cancel()
        await asyncio.gather(*self._health_checks, return_exceptions=True)
        for pools in self._pools.values():
            for pool in pools.values():
                await pool.aclose()
        await self._prober.aclose()
