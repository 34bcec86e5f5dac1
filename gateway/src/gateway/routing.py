"""The routing table: which service serves which path prefix, its upstream instances, its
timeout and the routes that need no access token.

Read once at start from ``routes.toml`` (its format is documented at the top of that file) and
validated whole, so that a mistake stops the gateway at start instead of misrouting requests.
"""

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_NAME = r"^[a-z][a-z0-9_-]*$"
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-]+)+$")
_BASE_URL = re.compile(r"^https?://[^/?#\s]+$")
_METHOD = re.compile(r"^[A-Z]+$")
_PARAMETER = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")


class RoutingTableError(ValueError):
    """The routing table cannot be used; the message says where and why."""


def compile_path_pattern(pattern: str) -> re.Pattern[str]:
    """``/identity/v1/token`` literally, ``{name}`` as one segment, a final ``/**`` as the path
    itself and everything under it."""
    if not pattern.startswith("/"):
        raise ValueError(f"{pattern!r} does not start with '/'")
    segments = pattern.split("/")[1:]
    regex = ""
    for position, segment in enumerate(segments):
        if segment == "**":
            if position != len(segments) - 1:
                raise ValueError(f"{pattern!r}: '**' may only end a pattern")
            return re.compile(regex + "(?:/.*)?")
        if _PARAMETER.match(segment):
            regex += "/[^/]+"
        elif not segment or any(char in segment for char in "{}*"):
            raise ValueError(f"{pattern!r}: segment {segment!r} is neither literal nor '{{name}}'")
        else:
            regex += "/" + re.escape(segment)
    return re.compile(regex)


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


class _ServiceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    prefix: str
    upstreams: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(gt=0)
    public: list[_PublicRouteSpec] = Field(default_factory=list)

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
        return self


class _TokensSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jwks_service: str
    jwks_path: str


class _RoutesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: _TokensSpec
    services: list[_ServiceSpec] = Field(min_length=1)

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


@dataclass(frozen=True, slots=True)
class MetricsRoute:
    """What the kit's request metrics are labelled with for proxied requests: one label per
    service (``/catalog/v1/*``), never the raw path, whose values are unbounded."""

    path: str


@dataclass(frozen=True, slots=True)
class ServiceRoute:
    name: str
    prefix: str
    upstreams: tuple[str, ...]
    timeout_seconds: float
    public: tuple[PublicRoute, ...]
    metrics_route: MetricsRoute

    def serves(self, path: str) -> bool:
        return _within(path, self.prefix)

    def is_public(self, method: str, path: str) -> bool:
        return any(route.admits(method, path) for route in self.public)


@dataclass(frozen=True, slots=True)
class RoutingTable:
    #: Longest prefix first, so that the first service that serves a path is the best match.
    services: tuple[ServiceRoute, ...]
    jwks_service: str
    jwks_path: str

    def match(self, path: str) -> ServiceRoute | None:
        for service in self.services:
            if service.serves(path):
                return service
        return None

    def service(self, name: str) -> ServiceRoute:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


def _public_route(spec: _PublicRouteSpec) -> PublicRoute:
    methods = {spec.method, "HEAD"} if spec.method == "GET" else {spec.method}
    return PublicRoute(frozenset(methods), compile_path_pattern(spec.path))


def load_routing_table(
    path: Path, *, upstream_overrides: Mapping[str, str] | None = None
) -> RoutingTable:
    """Read and check the table; ``upstream_overrides`` (service → base URL) replaces the
    file's upstreams of the services it names."""
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
    unknown = sorted(set(overrides) - {service.name for service in spec.services})
    if unknown:
        raise RoutingTableError(f"upstream overrides name services not in {path}: {unknown}")
    services: list[ServiceRoute] = []
    for service in spec.services:
        try:
            upstreams = (
                (_base_url(overrides[service.name]),)
                if service.name in overrides
                else tuple(service.upstreams)
            )
        except ValueError as exc:
            raise RoutingTableError(f"upstream override for {service.name!r}: {exc}") from exc
        services.append(
            ServiceRoute(
                name=service.name,
                prefix=service.prefix,
                upstreams=upstreams,
                timeout_seconds=service.timeout_seconds,
                public=tuple(_public_route(route) for route in service.public),
                metrics_route=MetricsRoute(f"{service.prefix}/*"),
            )
        )
    services.sort(key=lambda service: len(service.prefix), reverse=True)
    return RoutingTable(
        services=tuple(services),
        jwks_service=spec.tokens.jwks_service,
        jwks_path=spec.tokens.jwks_path,
    )
