"""The platform's OpenAPI document: every service's own document, merged into one.

Each service documents its public paths at ``/openapi.json``. The gateway keeps the paths under
each service's prefix (a service's health routes are not the platform's API), marks the routes
that need an access token (the routing table knows which are public), adds to every operation
the problems the gateway itself answers before or instead of the service (its edge's refusals,
rate limits, upstream faults, token checks), and merges components:
where two services give one name to different definitions, each gets ``<service>.<name>`` and
its references are rewritten. A service that cannot be reached is listed in ``x-unavailable``
instead of failing the document. Built on first request, reused for ``openapi_cache_seconds``.
"""

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from gateway.edge import (
    AmbiguousQuery,
    HeadersTooLarge,
    InvalidPath,
    NotHttp,
    RequestTooSlow,
    UriTooLong,
)
from gateway.proxy import InvalidRegionCodeHeader, TokenTypeNotAllowed
from gateway.ratelimits import RateLimited
from gateway.routing import RoutingTable, ServiceRoute
from gateway.upstreams import (
    BadGateway,
    InvalidTarget,
    UpstreamOverloaded,
    Upstreams,
    UpstreamTimeout,
)
from servicekit.auth import (
    InsufficientScope,
    InvalidToken,
    PrincipalType,
    TokenExpired,
    TokenRevoked,
)
from servicekit.openapi import (
    PROBLEM_SCHEMA,
    PROBLEM_SCHEMA_NAME,
    REQUIRED_SCOPES,
    SECURITY_SCHEME,
    SECURITY_SCHEMES,
    ProblemType,
    add_problems,
    example_path,
)
from servicekit.pagination import InvalidCursor
from servicekit.problems import DomainError, PayloadTooLarge, Unauthenticated, UpstreamUnavailable

OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: What the gateway can answer for any operation it proxies, before or instead of the service.
EVERY_OPERATION: tuple[type[DomainError], ...] = (
    NotHttp,
    InvalidPath,
    AmbiguousQuery,
    InvalidRegionCodeHeader,
    InvalidTarget,
    RequestTooSlow,
    PayloadTooLarge,
    UriTooLong,
    RateLimited,
    HeadersTooLarge,
    BadGateway,
    UpstreamUnavailable,
    UpstreamOverloaded,
    UpstreamTimeout,
)
#: What it can answer for an operation that needs an access token at the gateway (a
#: third-party client's token is refused on every operation that declares no scope).
PROTECTED_OPERATION: tuple[type[DomainError], ...] = (
    Unauthenticated,
    InvalidToken,
    TokenExpired,
    TokenRevoked,
    InsufficientScope,
)
_TOKEN_TYPES: tuple[str, ...] = get_args(PrincipalType)


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: renames.get(value, value)
            if key == "$ref" and isinstance(value, str)
            else _rewrite_refs(value, renames)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _components(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    components = document.get("components")
    if not isinstance(components, dict):
        return {}
    return {kind: entries for kind, entries in components.items() if isinstance(entries, dict)}


def _clashing_names(documents: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(kind, name) pairs that two services define differently."""
    variants: dict[tuple[str, str], set[str]] = {}
    for document in documents.values():
        for kind, entries in _components(document).items():
            for name, definition in entries.items():
                variants.setdefault((kind, name), set()).add(json.dumps(definition, sort_keys=True))
    return {key for key, definitions in variants.items() if len(definitions) > 1}


def gateway_problems(service: ServiceRoute, method: str, path: str) -> list[ProblemType]:
    """What the gateway itself can answer to ``method path`` of ``service``."""
    problems = list(EVERY_OPERATION)
    if not service.is_public(method, path):
        problems.extend(PROTECTED_OPERATION)
        if not all(service.admits_token_type(typ, method, path) for typ in _TOKEN_TYPES):
            problems.append(TokenTypeNotAllowed)
    if any(pattern.fullmatch(path) for pattern, _ in service.fan_out) and method == "GET":
        problems.append(InvalidCursor)
    return [ProblemType.of(problem) for problem in problems]


def _as_proxied(path: str, item: dict[str, Any], service: ServiceRoute) -> dict[str, Any]:
    """The path's operations as the gateway serves them: with its own problems, and a
    security requirement where the gateway checks the token (a service may require one on a
    route the gateway lets through, and documents it itself)."""
    proxied = dict(item)
    for method in OPERATIONS:
        operation = item.get(method)
        if not isinstance(operation, dict):
            continue
        operation = json.loads(json.dumps(operation))
        add_problems(
            operation,
            gateway_problems(service, method.upper(), path),
            instance=example_path(path, operation),
        )
        if "security" not in operation and not service.is_public(method.upper(), path):
            scopes = list(service.required_scopes(method.upper(), path))
            operation["security"] = [{SECURITY_SCHEME: scopes}]
            if scopes:
                operation[REQUIRED_SCOPES] = scopes
        proxied[method] = operation
    return proxied


def merge_documents(
    services: Sequence[ServiceRoute],
    documents: Mapping[str, Mapping[str, Any]],
    unavailable: Sequence[str],
) -> dict[str, Any]:
    """One document from each reachable service's document (``documents``, by service name)."""
    clashing = _clashing_names(documents)
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {
        "schemas": {PROBLEM_SCHEMA_NAME: PROBLEM_SCHEMA},
        "securitySchemes": dict(SECURITY_SCHEMES),
    }
    tags: dict[str, Any] = {}
    for service in services:
        document = documents.get(service.name)
        if document is None:
            continue
        renames = {
            f"#/components/{kind}/{name}": f"#/components/{kind}/{service.name}.{name}"
            for kind, entries in _components(document).items()
            for name in entries
            if (kind, name) in clashing
        }
        if renames:
            document = _rewrite_refs(document, renames)
        for path, item in document.get("paths", {}).items():
            if service.serves(path) and isinstance(item, dict):
                paths[path] = _as_proxied(path, item, service)
        for kind, entries in _components(document).items():
            for name, definition in entries.items():
                merged_name = f"{service.name}.{name}" if (kind, name) in clashing else name
                components.setdefault(kind, {})[merged_name] = definition
        for tag in document.get("tags", []):
            if isinstance(tag, dict) and isinstance(tag.get("name"), str):
                tags.setdefault(tag["name"], tag)
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "OneVisit",
            "version": "v1",
            "description": "Every OneVisit service's public API, as the gateway serves it.",
        },
        "paths": dict(sorted(paths.items())),
        "components": components,
        "x-unavailable": sorted(unavailable),
    }
    if tags:
        merged["tags"] = list(tags.values())
    return merged


class OpenApiAggregator:
    def __init__(
        self,
        table: RoutingTable,
        upstreams: Upstreams,
        *,
        cache_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self._services = sorted(table.services, key=lambda service: service.name)
        self._upstreams = upstreams
        self._cache_seconds = cache_seconds
        self._timeout_seconds = timeout_seconds
        self._document: dict[str, Any] | None = None
        self._built_at = float("-inf")
        # Concurrent first requests wait for one build instead of each asking every service.
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            fresh = time.monotonic() - self._built_at < self._cache_seconds
            if self._document is None or not fresh:
                self._document = await self._build()
                self._built_at = time.monotonic()
            return self._document

    async def _build(self) -> dict[str, Any]:
        fetched = await asyncio.gather(
            *(
                self._upstreams[service.name].fetch_json(
                    "/openapi.json", timeout_seconds=self._timeout_seconds
                )
                for service in self._services
            )
        )
        documents: dict[str, dict[str, Any]] = {}
        unavailable: list[str] = []
        for service, document in zip(self._services, fetched, strict=True):
            if isinstance(document, dict) and isinstance(document.get("paths"), dict):
                documents[service.name] = document
            else:
                unavailable.append(service.name)
        return merge_documents(self._services, documents, unavailable)
