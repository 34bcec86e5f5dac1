"""Tier routing: a request goes to the pool of the deepest region that contains its region
(from X-Region-Code, else the case number in the path, else the token's claim), any other to
the provincial pool; a malformed region code is refused before anything is forwarded."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.auth import PrincipalType
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

LUCHENG_CASE = "/cases/v1/cases/330302-20261126-000001"  # Lucheng District, Wenzhou
OUHAI_CASE = "/cases/v1/cases/330304-20261126-000002"  # Ouhai District, Wenzhou
HANGZHOU_CASE = "/cases/v1/cases/330106-20261126-000003"  # Xihu District, Hangzhou


@pytest.fixture
async def tiered(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    services: dict[str, Any],
    regional_cases: dict[str, Any],
) -> httpx.AsyncClient:
    """case-svc: the provincial instance by default, a Wenzhou one for 3303."""
    for fake in regional_cases.values():
        fake.received.clear()
    routes = routes_with(
        case={
            "upstreams": [services["case"].url],
            "region_paths": ["/cases/v1/cases/{region_id}/**"],
            "pools": [{"region": "330300", "upstreams": [regional_cases["case-wenzhou"].url]}],
        }
    )
    client: httpx.AsyncClient = await start_gateway(routes_file=routes, from_file=("case",))
    return client


@pytest.mark.parametrize(
    ("path", "region_header", "token_region", "instance"),
    [
        ("/cases/v1/cases", "330302", None, "case-wenzhou"),
        ("/cases/v1/cases", "330300000000", None, "case-wenzhou"),
        ("/cases/v1/cases", "3301", None, "case"),
        ("/cases/v1/cases", "34", "330302026003", "case"),  # the header wins over the token
        (LUCHENG_CASE, None, None, "case-wenzhou"),
        (f"{OUHAI_CASE}/transitions", None, None, "case-wenzhou"),
        (HANGZHOU_CASE, None, None, "case"),
        (HANGZHOU_CASE, "3303", None, "case-wenzhou"),  # the header wins over the path
        (HANGZHOU_CASE, None, "330302026003", "case"),  # the path wins over the token
        ("/cases/v1/cases", None, "330302026003", "case-wenzhou"),
        ("/cases/v1/cases", None, "330106001", "case"),
        ("/cases/v1/cases", None, None, "case"),  # no region at all: the province
        ("/cases/v1/cases/mine", None, "330302026003", "case-wenzhou"),  # not an id: the token
    ],
)
async def test_a_request_lands_in_the_pool_of_its_region_and_no_other(
    tiered: httpx.AsyncClient,
    services: dict[str, Any],
    regional_cases: dict[str, Any],
    token_minter: TokenMinter,
    path: str,
    region_header: str | None,
    token_region: str | None,
    instance: str,
) -> None:
    headers = bearer(token_minter.mint("c-1", region=token_region))
    if region_header is not None:
        headers["x-region-code"] = region_header
    response = await tiered.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["service"] == instance
    received = {
        "case": services["case"].received,
        "case-wenzhou": regional_cases["case-wenzhou"].received,
    }
    assert received == {name: [path] if name == instance else [] for name in received}


async def test_the_deepest_pool_containing_the_region_serves_it(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    services: dict[str, Any],
    regional_cases: dict[str, Any],
    token_minter: TokenMinter,
) -> None:
    routes = routes_with(
        case={
            "upstreams": [services["case"].url],
            "region_paths": ["/cases/v1/cases/{region_id}/**"],
            "pools": [
                {"region": "3303", "upstreams": [regional_cases["case-wenzhou"].url]},
                {"region": "330302", "upstreams": [regional_cases["case-lucheng"].url]},
            ],
        }
    )
    gateway = await start_gateway(routes_file=routes, from_file=("case",))
    token = bearer(token_minter.mint("c-1"))
    answered_by = {
        path: (await gateway.get(path, headers=token)).json()["service"]
        for path in (LUCHENG_CASE, OUHAI_CASE, HANGZHOU_CASE)
    }
    assert answered_by == {
        LUCHENG_CASE: "case-lucheng",
        OUHAI_CASE: "case-wenzhou",
        HANGZHOU_CASE: "case",
    }


@pytest.mark.parametrize(
    "region_header", ["33x", "3", "330", "00", "330012", "３３０３".encode(), ""]
)
async def test_a_malformed_region_code_is_refused_and_not_forwarded(
    tiered: httpx.AsyncClient,
    services: dict[str, Any],
    regional_cases: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
    region_header: str | bytes,
) -> None:
    headers: dict[str, str | bytes] = {
        **bearer(token_minter.mint("c-1")),
        "x-region-code": region_header,
    }
    response = await tiered.get("/cases/v1/cases", headers=headers)
    problem(response, 400, "invalid_region_header")
    assert services["case"].received == []
    assert regional_cases["case-wenzhou"].received == []


async def test_two_region_codes_are_refused(
    tiered: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    headers = [
        ("authorization", f"Bearer {token_minter.mint('c-1')}"),
        ("x-region-code", "3303"),
        ("x-region-code", "3301"),
    ]
    problem(await tiered.get("/cases/v1/cases", headers=headers), 400, "invalid_region_header")


async def test_a_malformed_region_code_is_refused_by_services_without_pools_too(
    gateway: httpx.AsyncClient, problem: Problem
) -> None:
    response = await gateway.get("/catalog/v1/items", headers={"x-region-code": "33-03"})
    problem(response, 400, "invalid_region_header")


async def test_readiness_waits_for_every_pool_of_a_service(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    services: dict[str, Any],
    dead_url: str,
) -> None:
    routes = routes_with(
        case={
            "upstreams": [services["case"].url],
            "pools": [{"region": "3303", "upstreams": [dead_url]}],
        }
    )
    gateway = await start_gateway(routes_file=routes, from_file=("case",))
    response = await gateway.get("/readyz")
    assert response.status_code == 503
    assert response.json()["services"]["case"] == "unreachable"


@pytest.mark.parametrize(
    ("typ", "dept", "instance"),
    [
        ("staff", "330300-housing_provident_fund", "case-wenzhou"),
        ("department_system", "330302-public_security", "case-wenzhou"),
        ("staff", "330100-housing_provident_fund", "case"),
        ("staff", None, "case"),  # a platform administrator: the province
    ],
)
async def test_staff_and_department_systems_work_where_their_department_is(
    tiered: httpx.AsyncClient,
    services: dict[str, Any],
    regional_cases: dict[str, Any],
    token_minter: TokenMinter,
    typ: PrincipalType,
    dept: str | None,
    instance: str,
) -> None:
    token = token_minter.mint("s-1", typ=typ, loa=2, dept=dept)

    response = await tiered.get("/cases/v1/queue", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["service"] == instance
