"""The routing table: the file shipped with the gateway, overrides from the environment, and
the mistakes that stop the gateway at start instead of misrouting requests."""

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.routing import (
    DEFAULT_POOL,
    Resilience,
    RoutingTableError,
    ServiceRoute,
    compile_path_pattern,
    load_routing_table,
)
from gateway.settings import ROUTES_SHIPPED, GatewaySettings


def test_the_shipped_table_routes_every_service_to_its_default_port() -> None:
    table = load_routing_table(ROUTES_SHIPPED)
    assert {route.name: (route.prefix, route.upstreams) for route in table.services} == {
        "identity": ("/identity/v1", ("http://127.0.0.1:8001",)),
        "catalog": ("/catalog/v1", ("http://127.0.0.1:8002",)),
        "case": ("/cases/v1", ("http://127.0.0.1:8003",)),
        "rating": ("/ratings/v1", ("http://127.0.0.1:8004",)),
        "exchange": ("/exchange/v1", ("http://127.0.0.1:8005",)),
        "app": ("/app", ("http://127.0.0.1:8006",)),
        "workbench": ("/workbench", ("http://127.0.0.1:8006",)),
    }


def test_upstreams_from_the_environment_replace_the_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides = {"identity": "http://127.0.0.1:18001", "case": "http://case-svc:8003/"}
    monkeypatch.setenv("GATEWAY_UPSTREAMS", json.dumps(overrides))
    settings = GatewaySettings()
    table = load_routing_table(settings.routes_file, upstream_overrides=settings.upstreams)
    assert table.service("identity").upstreams == ("http://127.0.0.1:18001",)
    assert table.service("case").upstreams == ("http://case-svc:8003",)
    assert table.service("catalog").upstreams == ("http://127.0.0.1:8002",)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/catalog/v1/**", "/catalog/v1", True),
        ("/catalog/v1/**", "/catalog/v1/items/330000-ID-LOSS/handler", True),
        ("/catalog/v1/**", "/catalog/v10/items", False),
        # Matched percent-decoded: an encoded line break is one more character of a segment.
        ("/catalog/v1/**", "/catalog/v1/regions/3303\n/children", True),
        ("/catalog/v1/**", "/catalog/v1/\n", True),
        ("/identity/v1/token", "/identity/v1/token", True),
        ("/identity/v1/token", "/identity/v1/token/extra", False),
        ("/cases/v1/cases/{case_no}", "/cases/v1/cases/330302-20261126-000001", True),
        ("/cases/v1/cases/{case_no}", "/cases/v1/cases/330302/history", False),
        ("/cases/v1/cases/{case_no}", "/cases/v1/cases/", False),
        ("/cases/v1/cases/{case_no}", "/cases/v1/cases/330302\n", True),
    ],
)
def test_public_route_patterns_match_whole_segments(pattern: str, path: str, matches: bool) -> None:
    assert (compile_path_pattern(pattern).fullmatch(path) is not None) is matches


_GOOD_SERVICE = """
[[services]]
name = "catalog"
prefix = "/catalog/v1"
upstreams = ["http://127.0.0.1:8002"]
timeout_seconds = 5.0
"""
_POOL = """
[[services.pools]]
region = "{region}"
upstreams = ["http://127.0.0.1:18002"]
"""
_TOKENS = '[tokens]\njwks_service = "catalog"\njwks_path = "/catalog/v1/jwks.json"\n'


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[tokens\n", "not valid TOML"),
        (_TOKENS, "services"),
        (_TOKENS + _GOOD_SERVICE + _GOOD_SERVICE, "repeated: ['catalog']"),
        (_TOKENS + _GOOD_SERVICE.replace("/catalog/v1", "catalog/v1"), "not a path prefix"),
        (_TOKENS + _GOOD_SERVICE.replace("http://127.0.0.1:8002", "127.0.0.1:8002"), "base URL"),
        (_TOKENS + _GOOD_SERVICE.replace("5.0", "0"), "timeout_seconds"),
        (
            _TOKENS + _GOOD_SERVICE + 'public = [{ method = "GET", path = "/cases/v1/**" }]',
            "outside '/catalog/v1'",
        ),
        (
            _TOKENS + _GOOD_SERVICE + 'public = [{ method = "GET", path = "/catalog/**/x" }]',
            "may only end",
        ),
        (_TOKENS + _GOOD_SERVICE + 'unknown = "key"', "unknown"),
        (
            _TOKENS + _GOOD_SERVICE + _POOL.format(region="33x"),
            "a region code is 2, 4, 6, 9 or 12 digits",
        ),
        (
            _TOKENS + _GOOD_SERVICE + _POOL.format(region="3303") + _POOL.format(region="330300"),
            "repeated: ['3303']",
        ),
        (
            _TOKENS
            + _GOOD_SERVICE
            + '[[rate_limits]]\nroute_class = "default"\nper = "client"\n'
            + "rate_per_second = 1\nburst = 1\n",
            "per",
        ),
        (
            _TOKENS + _GOOD_SERVICE + 'region_paths = ["/catalog/v1/items/{code}"]',
            "has no {region_id} segment",
        ),
        (
            _TOKENS + _GOOD_SERVICE + 'region_paths = ["/cases/v1/cases/{region_id}"]',
            "outside '/catalog/v1'",
        ),
        (_TOKENS.replace('"catalog"', '"identity"') + _GOOD_SERVICE, "not a service"),
        (_TOKENS + "[resilience]\nmax_ejection_percent = 150\n" + _GOOD_SERVICE, "100"),
        (_TOKENS + "[resilience]\nretries = 1\n" + _GOOD_SERVICE, "retries"),
        (
            _TOKENS + _GOOD_SERVICE + "resilience = { max_ejection_seconds = 1.0 }",
            "the resilience of service 'catalog'",
        ),
        (
            _TOKENS + _GOOD_SERVICE + "resilience = { max_reqests = 10 }",
            "max_reqests",
        ),
        (
            _TOKENS
            + _GOOD_SERVICE
            + 'timeouts = [{ path = "/cases/v1/**", timeout_seconds = 1.0 }]',
            "outside '/catalog/v1'",
        ),
        (
            _TOKENS
            + _GOOD_SERVICE
            + 'timeouts = [{ path = "/catalog/v1/**", timeout_seconds = 0 }]',
            "timeout_seconds",
        ),
    ],
)
def test_a_broken_routing_table_stops_the_gateway_at_start(
    tmp_path: Path, text: str, complaint: str
) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(text, encoding="utf-8")
    with pytest.raises(RoutingTableError, match=None) as raised:
        load_routing_table(routes)
    assert complaint in str(raised.value)


def test_an_override_for_a_service_the_table_does_not_know_is_refused() -> None:
    with pytest.raises(RoutingTableError, match="not in"):
        load_routing_table(ROUTES_SHIPPED, upstream_overrides={"billing": "http://127.0.0.1:1"})


def test_region_pools_are_read_by_their_significant_prefix(tmp_path: Path) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(
        _TOKENS + _GOOD_SERVICE + _POOL.format(region="330300000000"), encoding="utf-8"
    )
    table = load_routing_table(routes, upstream_overrides={"catalog": "http://127.0.0.1:28002"})
    catalog = table.service("catalog")
    assert catalog.upstreams == ("http://127.0.0.1:28002",)  # the override: the default pool
    assert dict(catalog.pools) == {"3303": ("http://127.0.0.1:18002",)}


@pytest.mark.parametrize(
    ("region", "pool"),
    [
        ("330302026003", "330302026"),
        ("330302026", "330302026"),
        ("330302001", "330302"),
        ("330304", "3303"),
        ("3303", "3303"),
        ("3301", DEFAULT_POOL),
        ("33", DEFAULT_POOL),
        (None, DEFAULT_POOL),
    ],
)
def test_the_deepest_pool_whose_region_contains_the_requests_wins(
    region: str | None, pool: str
) -> None:
    route = ServiceRoute(
        name="case",
        prefix="/cases/v1",
        upstreams=("http://province",),
        timeout_seconds=1.0,
        public=(),
        metrics_route="/cases/v1/*",
        pools={key: (f"http://{key}",) for key in ("3303", "330302", "330302026", "330106")},
    )
    assert route.pool_for(region) == pool


def test_a_services_resilience_replaces_the_keys_it_names_of_the_files(tmp_path: Path) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(
        _TOKENS
        + "[resilience]\nmax_retries = 1\nmax_requests = 64\n"
        + _GOOD_SERVICE
        + "resilience = { max_requests = 8 }\n"
        + 'timeouts = [{ path = "/catalog/v1/exports/**", timeout_seconds = 60.0 }]\n',
        encoding="utf-8",
    )
    catalog = load_routing_table(routes).service("catalog")
    assert catalog.resilience == Resilience(max_retries=1, max_requests=8)
    assert catalog.timeout_for("/catalog/v1/exports/2026") == 60.0
    assert catalog.timeout_for("/catalog/v1/items") == 5.0


def test_the_shipped_table_checks_health_and_retries_with_the_defaults() -> None:
    for route in load_routing_table(ROUTES_SHIPPED).services:
        assert route.resilience == Resilience()


def test_pools_and_several_instances_come_from_the_environment_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "GATEWAY_UPSTREAMS", json.dumps({"case": ["http://case-a:8003", "http://case-b:8003/"]})
    )
    monkeypatch.setenv(
        "GATEWAY_POOLS", json.dumps({"case": {"330300": ["http://case-wenzhou:8003"]}})
    )
    settings = GatewaySettings()
    table = load_routing_table(
        settings.routes_file, upstream_overrides=settings.upstreams, pool_overrides=settings.pools
    )
    case = table.service("case")
    assert case.upstreams == ("http://case-a:8003", "http://case-b:8003")
    assert dict(case.pools) == {"3303": ("http://case-wenzhou:8003",)}
    assert case.pool_for("330302026") == "3303"


@pytest.mark.parametrize(
    ("pools", "complaint"),
    [
        ({"billing": {"3303": ["http://x:1"]}}, "not in"),
        ({"case": {"33x": ["http://x:1"]}}, "pool override for 'case'"),
        ({"case": {"3303": []}}, "at least one"),
        ({"case": {"3303": ["x:1"]}}, "base URL"),
        ({"case": {"3303": ["http://a:1"], "330300": ["http://b:1"]}}, "repeated"),
    ],
)
def test_a_bad_pool_override_is_refused(pools: dict[str, Any], complaint: str) -> None:
    with pytest.raises(RoutingTableError, match=None) as raised:
        load_routing_table(ROUTES_SHIPPED, pool_overrides=pools)
    assert complaint in str(raised.value)
