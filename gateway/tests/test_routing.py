"""The routing table: the file shipped with the gateway, overrides from the environment, and
the mistakes that stop the gateway at start instead of misrouting requests."""

import json
from pathlib import Path

import pytest

from gateway.routing import RoutingTableError, compile_path_pattern, load_routing_table
from gateway.settings import ROUTES_SHIPPED, GatewaySettings


def test_the_shipped_table_routes_every_service_to_its_default_port() -> None:
    table = load_routing_table(ROUTES_SHIPPED)
    assert {route.name: (route.prefix, route.upstreams) for route in table.services} == {
        "identity": ("/identity/v1", ("http://127.0.0.1:8001",)),
        "catalog": ("/catalog/v1", ("http://127.0.0.1:8002",)),
        "case": ("/cases/v1", ("http://127.0.0.1:8003",)),
        "rating": ("/ratings/v1", ("http://127.0.0.1:8004",)),
        "exchange": ("/exchange/v1", ("http://127.0.0.1:8005",)),
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
        ("/identity/v1/token", "/identity/v1/token", True),
        ("/identity/v1/token", "/identity/v1/token/extra", False),
        ("/cases/v1/cases/{case_no}", "/cases/v1/cases/330302-20261126-000001", True),
        ("/cases/v1/cases/{case_no}", "/cases/v1/cases/330302/history", False),
        ("/cases/v1/cases/{case_no}", "/cases/v1/cases/", False),
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
        (_TOKENS.replace('"catalog"', '"identity"') + _GOOD_SERVICE, "not a service"),
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
