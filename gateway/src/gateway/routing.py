"""The routing table: which service serves which path prefix, its upstream instances (a
provincial pool and, optionally, pools for regions below), its timeouts, how the gateway treats
its instances (``Resilience``: health checks, ejection, circuit breaking, retries) and the
routes that need no access token.

Tier routing is longest-prefix matching on the region code, like IP routing: a request whose
region lies in a pool's region goes to that pool, the deepest one when several contain it; any
other goes to the service's default (provincial) pool. The lookup walks the at most five
prefixes of the region's lineage through a dict, so a table with a pool for every county and
township costs what a table with one pool costs.

Read at start and again on SIGHUP (see ``main``) from ``routes.toml`` (its format is documented
at the top of that file) and validated whole, so that a mistake stops the gateway at start, or
leaves the running table in place on a reload, instead of misrouting requests.
"""

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from servicekit.auth import PrincipalType
from servicekit.regions import InvalidRegionCode, RegionCode

_NAME = r"^[a-z][a-z0-9_-]*$"
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-]+)+$")
_BASE_URL = re.compile(r"^https?://[^/?#\s]+$")
_METHOD = re.compile(r"^[A-Z]+$")
_PARAMETER = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")
#: RFC 6749 §3.3's scope-token, without the quote and backslash a challenge would need escaped.
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
#: The parameter of a region path that names the resource id carrying the region.
REGION_ID = "{region_id}"
#: The lengths of a region code's significant prefixes, deepest first.
_LINEAGE_ENDS = (12, 9, 6, 4, 2)


class RoutingTableError(ValueError):
    """The routing table cannot be used; the message says where and why."""


def compile_path_pattern(pattern: str) -> re.Pattern[str]:
    """``/identity/v1/token`` literally, ``{name}`` as one segment, a final ``/**`` as the path
    itself and everything under it.

    Paths are matched percent-decoded, so a segment may hold any character, a line break
    (``%0A``) included: ``**`` matches it (``re.DOTALL``), or a public route would demand a
    token for a path the service answers itself."""
    if not pattern.startswith("/"):
        raise ValueError(f"{pattern!r} does not start with '/'")
    segments = pattern.split("/")[1:]
    regex = ""
    for position, segment in enumerate(segments):
        if segment == "**":
            if position != len(segments) - 1:
                raise ValueError(f"{pattern!r}: '**' may only end a pattern")
            return re.compile(regex + "(?:/.*)?", re.DOTALL)
        if segment == REGION_ID:
            regex += "/(?P<region_id>[^/]+)"
        elif _PARAMETER.match(segment):
            regex += "/[^/]+"
        elif not segment or any(char in segment for char in "{}*"):
            raise ValueError(f"{pattern!r}: segment {segment!r} is neither literal nor '{{name}}'")
        else:
            regex += "/" + re.escape(segment)
    return re.compile(regex, re.DOTALL)


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    if not _BASE_URL.match(url):
        raise ValueError(f"{url!r} is not a base URL like 'http://127.0.0.1:8001'")
    return url


class _PublicRouteSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    path: str

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        value = value.upper()
        if not _METHOD.match(value):
            raise ValueError(f"{value!r} is not an HTTP method")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        compile_path_pattern(value)
        return value


@functools.lru_cache(maxsize=4096)
def region_prefix(text: str) -> str:
    """The significant prefix of a region code in any of its forms (``330300`` → ``3303``);
    raises ``InvalidRegionCode``."""
    return RegionCode.parse(text).prefix


class _PoolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    upstreams: list[str] = Field(min_length=1)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        try:
            return region_prefix(value)
        except InvalidRegionCode as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("upstreams")
    @classmethod
    def _upstreams(cls, value: list[str]) -> list[str]:
        return [_base_url(url) for url in value]


class _RouteClassSpec(_PublicRouteSpec):
    route_class: str = Field(pattern=_NAME)


class _TokenTypeRouteSpec(_PublicRouteSpec):
    token_types: list[PrincipalType] = Field(min_length=1)


class _ScopeRouteSpec(_PublicRouteSpec):
    scopes: list[str] = Field(min_length=1)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not _SCOPE.match(scope):
                raise ValueError(f"{scope!r} is not a scope like 'cases:read'")
        return list(dict.fromkeys(value))


class _RateLimitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    route_class: str = Field(pattern=_NAME)
    per: Literal["user", "address"]
    rate_per_second: float = Field(gt=0)
    burst: int = Field(ge=1)


class _FanOutSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    order_by: list[str] = Field(min_length=1)
    descending: bool = True
    default_limit: int = Field(default=20, ge=1)
    max_limit: int = Field(default=100, ge=1)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        compile_path_pattern(value)
        return value


@dataclass(frozen=True, slots=True)
class Resilience:
    """How the gateway treats the instances of each pool of a service (``upstreams``).

    Active health checks: every ``health_check_interval_seconds``, each instance's
    ``health_check_path`` is asked; ``unhealthy_threshold`` failures (no answer, or a 5xx) in a
    row take it out of rotation, ``healthy_threshold`` successes in a row put it back (the first
    success of an instance never seen healthy does, so that a gateway started before its
    services waits for no second round). Passive ejection: ``consecutive_failures_to_eject``
    answers of 5xx or failed exchanges in a row eject an instance for ``base_ejection_seconds``
    times the times it was ejected (a quiet base period forgives one), at most
    ``max_ejection_seconds``; never more than ``max_ejection_percent`` of a pool, nor its last
    instance in rotation. Circuit breaking: a pool holds at most ``max_requests`` requests, and
    at most ``max_pending_requests`` beyond the connections its instances in rotation may open;
    more are refused at once (503 with Retry-After). Retries: see ``upstreams``.
    """

    health_check_path: str = "/readyz"
    health_check_interval_seconds: float = 5.0
    health_check_timeout_seconds: float = 2.0
    unhealthy_threshold: int = 2
    healthy_threshold: int = 2
    consecutive_failures_to_eject: int = 5
    base_ejection_seconds: float = 30.0
    max_ejection_seconds: float = 300.0
    max_ejection_percent: int = 50
    max_requests: int = 1024
    max_pending_requests: int = 256
    max_retries: int = 2
    retry_backoff_base_seconds: float = 0.025
    retry_backoff_max_seconds: float = 0.25
    retry_budget_percent: float = 20.0
    retry_budget_min_concurrency: int = 3


#: What a routing table that says nothing about resilience gets.
_RESILIENCE = Resilience()


class _ResilienceSpec(BaseModel):
    """How the gateway treats the instances of a pool; see ``Resilience``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    health_check_path: str = _RESILIENCE.health_check_path
    health_check_interval_seconds: float = Field(
        default=_RESILIENCE.health_check_interval_seconds, gt=0
    )
    health_check_timeout_seconds: float = Field(
        default=_RESILIENCE.health_check_timeout_seconds, gt=0
    )
    unhealthy_threshold: int = Field(default=_RESILIENCE.unhealthy_threshold, ge=1)
    healthy_threshold: int = Field(default=_RESILIENCE.healthy_threshold, ge=1)
    consecutive_failures_to_eject: int = Field(
        default=_RESILIENCE.consecutive_failures_to_eject, ge=1
    )
    base_ejection_seconds: float = Field(default=_RESILIENCE.base_ejection_seconds, gt=0)
    max_ejection_seconds: float = Field(default=_RESILIENCE.max_ejection_seconds, gt=0)
    max_ejection_percent: int = Field(default=_RESILIENCE.max_ejection_percent, ge=0, le=100)
    max_requests: int = Field(default=_RESILIENCE.max_requests, ge=1)
    max_pending_requests: int = Field(default=_RESILIENCE.max_pending_requests, ge=0)
    max_retries: int = Field(default=_RESILIENCE.max_retries, ge=0)
    retry_backoff_base_seconds: float = Field(default=_RESILIENCE.retry_backoff_base_seconds, ge=0)
    retry_backoff_max_seconds: float = Field(default=_RESILIENCE.retry_backoff_max_seconds, ge=0)
    retry_budget_percent: float = Field(default=_RESILIENCE.retry_budget_percent, ge=0, le=100)
    retry_budget_min_concurrency: int = Field(
        default=_RESILIENCE.retry_budget_min_concurrency, ge=0
    )

    @field_validator("health_check_path")
    @classmethod
    def _health_check_path(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError(f"{value!r} is not a path like '/readyz'")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_ejection_seconds < self.base_ejection_seconds:
            raise ValueError("max_ejection_seconds is shorter than base_ejection_seconds")
        if self.retry_backoff_max_seconds < self.retry_backoff_base_seconds:
            raise ValueError("retry_backoff_max_seconds is shorter than retry_backoff_base_seconds")
        return self


class _TimeoutSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    timeout_seconds: float = Field(gt=0)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        compile_path_pattern(value)
        return value


class _ServiceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    prefix: str
    upstreams: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(gt=0)
    timeouts: list[_TimeoutSpec] = Field(default_factory=list)
    resilience: dict[str, Any] = Field(default_factory=dict)
    public: list[_PublicRouteSpec] = Field(default_factory=list)
    pools: list[_PoolSpec] = Field(default_factory=list)
    region_paths: list[str] = Field(default_factory=list)
    route_classes: list[_RouteClassSpec] = Field(default_factory=list)
    fan_out: list[_FanOutSpec] = Field(default_factory=list)
    token_types: list[PrincipalType] | None = Field(default=None, min_length=1)
    token_type_routes: list[_TokenTypeRouteSpec] = Field(default_factory=list)
    scope_routes: list[_ScopeRouteSpec] = Field(default_factory=list)
    repeatable_parameters: list[str] = Field(default_factory=list)

    @field_validator("region_paths")
    @classmethod
    def _region_paths(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if compile_path_pattern(pattern).groupindex.get("region_id") is None:
                raise ValueError(f"region path {pattern!r} has no {REGION_ID} segment")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError(f"{value!r} is not a path prefix like '/catalog/v1'")
        return value

    @field_validator("upstreams")
    @classmethod
    def _upstreams(cls, value: list[str]) -> list[str]:
        return [_base_url(url) for url in value]

    @model_validator(mode="after")
    def _public_routes_are_its_own(self) -> Self:
        for route in self.public:
            if not _within(route.path, self.prefix):
                raise ValueError(f"public route {route.path!r} is outside {self.prefix!r}")
        for pattern in [
            *self.region_paths,
            *(route.path for route in self.route_classes),
            *(listing.path for listing in self.fan_out),
            *(route.path for route in self.token_type_routes),
            *(route.path for route in self.scope_routes),
            *(timeout.path for timeout in self.timeouts),
        ]:
            if not _within(pattern, self.prefix):
                raise ValueError(f"path {pattern!r} is outside {self.prefix!r}")
        regions = [pool.region for pool in self.pools]
        repeated = sorted({region for region in regions if regions.count(region) > 1})
        if repeated:
            raise ValueError(f"each pool needs its own region; repeated: {repeated}")
        return self


class _TokensSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jwks_service: str
    jwks_path: str
    revocations_path: str | None = None


class _RoutesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: _TokensSpec
    resilience: _ResilienceSpec = Field(default_factory=_ResilienceSpec)
    services: list[_ServiceSpec] = Field(min_length=1)
    rate_limits: list[_RateLimitSpec] = Field(default_factory=list)

    def resilience_of(self, service: _ServiceSpec) -> _ResilienceSpec:
        """The file's ``[resilience]`` with the keys the service's own table names replaced."""
        if not service.resilience:
            return self.resilience
        merged = {**self.resilience.model_dump(exclude_unset=True), **service.resilience}
        return _ResilienceSpec.model_validate(merged)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [service.name for service in self.services]
        prefixes = [service.prefix for service in self.services]
        for kind, values in (("name", names), ("prefix", prefixes)):
            repeated = sorted({value for value in values if values.count(value) > 1})
            if repeated:
                raise ValueError(f"each service needs its own {kind}; repeated: {repeated}")
        keys_from = next((s for s in self.services if s.name == self.tokens.jwks_service), None)
        if keys_from is None:
            raise ValueError(f"tokens.jwks_service {self.tokens.jwks_service!r} is not a service")
        if not _within(self.tokens.jwks_path, keys_from.prefix):
            raise ValueError(f"tokens.jwks_path is outside {keys_from.prefix!r}")
        revocations = self.tokens.revocations_path
        if revocations is not None and not _within(revocations, keys_from.prefix):
            raise ValueError(f"tokens.revocations_path is outside {keys_from.prefix!r}")
        for service in self.services:
            try:
                self.resilience_of(service)
            except ValidationError as exc:
                raise ValueError(f"the resilience of service {service.name!r}: {exc}") from exc
        return self


def _within(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


@dataclass(frozen=True, slots=True)
class PublicRoute:
    #: GET admits HEAD as well: a HEAD is a GET without the body.
    methods: frozenset[str]
    pattern: re.Pattern[str]

    def admits(self, method: str, path: str) -> bool:
        return method in self.methods and self.pattern.fullmatch(path) is not None


#: The class of every route that the routing table does not put in another.
DEFAULT_ROUTE_CLASS = "default"


@dataclass(frozen=True, slots=True)
class RateLimit:
    route_class: str
    per: Literal["user", "address"]
    rate_per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class FanOut:
    """A list call answered by every pool of the service, merged (see ``fanout``)."""

    order_by: tuple[str, ...]
    descending: bool
    default_limit: int
    max_limit: int


#: The key of a service's default (provincial) pool among its region pools.
DEFAULT_POOL = ""


@dataclass(frozen=True, slots=True)
class ServiceRoute:
    name: str
    prefix: str
    #: The default pool's instances: the provincial ones, serving every region without a pool.
    upstreams: tuple[str, ...]
    timeout_seconds: float
    public: tuple[PublicRoute, ...]
    #: What the request metrics and the access log name the route by: one label per service
    #: (``/catalog/v1/*``), never the raw path, whose values are unbounded.
    metrics_route: str
    #: Region prefix (significant digits) → that region's instances.
    pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Paths with a resource id whose part before the first ``-`` is a region code.
    region_paths: tuple[re.Pattern[str], ...] = ()
    #: Routes of a class other than the default, for rate limits; the first that admits wins.
    route_classes: tuple[tuple[PublicRoute, str], ...] = ()
    #: GET paths whose lists come from every pool, merged.
    fan_out: tuple[tuple[re.Pattern[str], FanOut], ...] = ()
    #: The token types the service admits (``None``: every type).
    token_types: frozenset[str] | None = None
    #: Routes admitting other token types than the service's; the first that admits wins.
    token_type_routes: tuple[tuple[PublicRoute, frozenset[str]], ...] = ()
    #: Routes requiring scopes of a token limited by scope (all of them); the first that admits
    #: wins (see ``servicekit.auth.check_scopes`` for the rule).
    scope_routes: tuple[tuple[PublicRoute, tuple[str, ...]], ...] = ()
    #: Query parameters its routes take a list by, repeated; any other may appear once.
    repeatable_parameters: frozenset[str] = frozenset()
    #: Paths with a timeout of their own instead of ``timeout_seconds``; the first match wins.
    timeouts: tuple[tuple[re.Pattern[str], float], ...] = ()
    resilience: Resilience = field(default_factory=Resilience)

    def serves(self, path: str) -> bool:
        return _within(path, self.prefix)

    def timeout_for(self, path: str) -> float:
        """How long an instance may take to answer a request for ``path``."""
        for pattern, seconds in self.timeouts:
            if pattern.fullmatch(path):
                return seconds
        return self.timeout_seconds

    def is_public(self, method: str, path: str) -> bool:
        return any(route.admits(method, path) for route in self.public)

    def fan_out_for(self, method: str, path: str) -> FanOut | None:
        if method == "GET" and self.pools:
            for pattern, listing in self.fan_out:
                if pattern.fullmatch(path):
                    return listing
        return None

    def admits_token_type(self, typ: str, method: str, path: str) -> bool:
        """Whether a token of type ``typ`` may call this route at all (a coarse check; the
        service decides the rest)."""
        for route, token_types in self.token_type_routes:
            if route.admits(method, path):
                return typ in token_types
        return self.token_types is None or typ in self.token_types

    def required_scopes(self, method: str, path: str) -> tuple[str, ...]:
        """The scopes the route requires of a token limited by scope (none declared: ())."""
        for route, scopes in self.scope_routes:
            if route.admits(method, path):
                return scopes
        return ()

    def route_class(self, method: str, path: str) -> str:
        for route, route_class in self.route_classes:
            if route.admits(method, path):
                return route_class
        return DEFAULT_ROUTE_CLASS

    def pool_for(self, region: str | None) -> str:
        """The key of the pool serving ``region`` (a significant prefix): the deepest pool
        whose region contains it, else ``DEFAULT_POOL``."""
        if region and self.pools:
            pools = self.pools
            for end in _LINEAGE_ENDS:
                if end <= len(region) and region[:end] in pools:
                    return region[:end]
        return DEFAULT_POOL

    def region_in_path(self, path: str) -> str | None:
        """The region prefix of the resource id in ``path``, if a region path matches and the
        id starts with a valid region code; an id that does not is no region's."""
        for pattern in self.region_paths:
            match = pattern.fullmatch(path)
            if match is not None:
                try:
                    return region_prefix(match["region_id"].partition("-")[0])
                except InvalidRegionCode:
                    return None
        return None


@dataclass(frozen=True, slots=True)
class RoutingTable:
    #: Longest prefix first, so that the first service that serves a path is the best match.
    services: tuple[ServiceRoute, ...]
    jwks_service: str
    jwks_path: str
    rate_limits: tuple[RateLimit, ...] = ()
    #: Where the JWKS service publishes the revocation list (None: no list is followed).
    revocations_path: str | None = None

    def match(self, path: str) -> ServiceRoute | None:
        for service in self.services:
            # ``serves``, inlined: every request asks this of each service in turn.
            prefix = service.prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return service
        return None

    def service(self, name: str) -> ServiceRoute:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


def _override_urls(urls: str | Sequence[str]) -> tuple[str, ...]:
    listed = [urls] if isinstance(urls, str) else list(urls)
    if not listed:
        raise ValueError("name at least one base URL")
    return tuple(_base_url(url) for url in listed)


def _override_pools(pools: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    replaced: dict[str, tuple[str, ...]] = {}
    for region, urls in pools.items():
        prefix = region_prefix(region)
        if prefix in replaced:
            raise ValueError(f"each pool needs its own region; repeated: {prefix!r}")
        replaced[prefix] = _override_urls(urls)
    return replaced


def _public_route(spec: _PublicRouteSpec) -> PublicRoute:
    methods = {spec.method, "HEAD"} if spec.method == "GET" else {spec.method}
    return PublicRoute(frozenset(methods), compile_path_pattern(spec.path))


def load_routing_table(
    path: Path,
    *,
    upstream_overrides: Mapping[str, str | Sequence[str]] | None = None,
    pool_overrides: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> RoutingTable:
    """Read and check the table; ``upstream_overrides`` (service → base URL, or several)
    replaces the file's upstreams of the services it names, ``pool_overrides`` (service →
    region → base URLs) their region pools."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = _RoutesFile.model_validate(document)
    except OSError as exc:
        raise RoutingTableError(f"{path}: cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RoutingTableError(f"{path}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        raise RoutingTableError(f"{path}: {exc}") from exc
    overrides = dict(upstream_overrides or {})
    pool_replacements = dict(pool_overrides or {})
    unknown = sorted(
        (set(overrides) | set(pool_replacements)) - {service.name for service in spec.services}
    )
    if unknown:
        raise RoutingTableError(f"upstream overrides name services not in {path}: {unknown}")
    services: list[ServiceRoute] = []
    for service in spec.services:
        try:
            upstreams = (
                _override_urls(overrides[service.name])
                if service.name in overrides
                else tuple(service.upstreams)
            )
        except ValueError as exc:
            raise RoutingTableError(f"upstream override for {service.name!r}: {exc}") from exc
        try:
            pools = (
                _override_pools(pool_replacements[service.name])
                if service.name in pool_replacements
                else {pool.region: tuple(pool.upstreams) for pool in service.pools}
            )
        except ValueError as exc:
            raise RoutingTableError(f"pool override for {service.name!r}: {exc}") from exc
        resilience = spec.resilience_of(service)
        services.append(
            ServiceRoute(
                name=service.name,
                prefix=service.prefix,
                upstreams=upstreams,
                timeout_seconds=service.timeout_seconds,
                public=tuple(_public_route(route) for route in service.public),
                metrics_route=f"{service.prefix}/*",
                pools=pools,
                region_paths=tuple(compile_path_pattern(path) for path in service.region_paths),
                route_classes=tuple(
                    (_public_route(route), route.route_class) for route in service.route_classes
                ),
                fan_out=tuple(
                    (
                        compile_path_pattern(listing.path),
                        FanOut(
                            tuple(listing.order_by),
                            listing.descending,
                            listing.default_limit,
                            listing.max_limit,
                        ),
                    )
                    for listing in service.fan_out
                ),
                token_types=(
                    frozenset(service.token_types) if service.token_types is not None else None
                ),
                token_type_routes=tuple(
                    (_public_route(route), frozenset(route.token_types))
                    for route in service.token_type_routes
                ),
                scope_routes=tuple(
                    (_public_route(route), tuple(route.scopes)) for route in service.scope_routes
                ),
                repeatable_parameters=frozenset(service.repeatable_parameters),
                timeouts=tuple(
                    (compile_path_pattern(timeout.path), timeout.timeout_seconds)
                    for timeout in service.timeouts
                ),
                resilience=Resilience(**resilience.model_dump()),
            )
        )
    services.sort(key=lambda service: len(service.prefix), reverse=True)
    return RoutingTable(
        services=tuple(services),
        jwks_service=spec.tokens.jwks_service,
        jwks_path=spec.tokens.jwks_path,
        revocations_path=spec.tokens.revocations_path,
        rate_limits=tuple(
            RateLimit(limit.route_class, limit.per, limit.rate_per_second, limit.burst)
            for limit in spec.rate_limits
        ),
    )
