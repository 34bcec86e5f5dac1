"""Fan-out: a list call marked as such goes to every pool of the service; the pages come back
merged newest first with one cursor, and a pool that failed is named in the answer."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

LISTING = "/cases/v1/listing"


def _cases(region: str, days: list[int]) -> list[dict[str, Any]]:
    """Newest first, as the service lists them."""
    return [
        {"case_no": f"{region}-202611{day:02d}-000001", "submitted_at": f"2026-11-{day:02d}T08:00Z"}
        for day in sorted(days, reverse=True)
    ]


@pytest.fixture
def fanned_routes(
    routes_with: Callable[..., Path], services: dict[str, Any], regional_cases: dict[str, Any]
) -> Callable[[str], Path]:
    def build(wenzhou_url: str) -> Path:
        return routes_with(
            case={
                "upstreams": [services["case"].url],
                "pools": [{"region": "3303", "upstreams": [wenzhou_url]}],
                "fan_out": [{"path": LISTING, "order_by": ["submitted_at", "case_no"]}],
            }
        )

    return build


@pytest.fixture
def listed(services: dict[str, Any], regional_cases: dict[str, Any]) -> list[dict[str, Any]]:
    """Seven cases in the province's instance, five in Wenzhou's, interleaved in time."""
    services["case"].listing = _cases("330106", [1, 4, 5, 9, 12, 13, 20])
    regional_cases["case-wenzhou"].listing = _cases("330302", [2, 3, 10, 11, 25])
    everything = services["case"].listing + regional_cases["case-wenzhou"].listing
    return sorted(everything, key=lambda case: case["submitted_at"], reverse=True)


@pytest.mark.parametrize("limit", [1, 3, 5, 20])
async def test_the_pages_of_every_pool_merge_newest_first_without_loss_or_repeat(
    start_gateway: Any,
    fanned_routes: Callable[[str], Path],
    regional_cases: dict[str, Any],
    listed: list[dict[str, Any]],
    token_minter: TokenMinter,
    limit: int,
) -> None:
    gateway = await start_gateway(
        routes_file=fanned_routes(regional_cases["case-wenzhou"].url), from_file=("case",)
    )
    token = bearer(token_minter.mint("c-1"))
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _page in range(len(listed) + 1):
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = await gateway.get(LISTING, params=params, headers=token)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["incomplete"] == []
        assert 1 <= len(page["items"]) <= limit
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == listed


async def test_a_pool_that_fails_is_named_and_the_others_still_answer(
    start_gateway: Any,
    fanned_routes: Callable[[str], Path],
    dead_url: str,
    listed: list[dict[str, Any]],
    services: dict[str, Any],
    token_minter: TokenMinter,
) -> None:
    gateway = await start_gateway(routes_file=fanned_routes(dead_url), from_file=("case",))
    response = await gateway.get(
        LISTING, params={"limit": "20"}, headers=bearer(token_minter.mint("c-1"))
    )
    page = response.json()
    assert page["incomplete"] == [{"pool": "3303", "code": "upstream_unavailable"}]
    assert page["items"] == services["case"].listing
    assert page["next_cursor"] is not None  # the failed pool is still to be read


async def test_a_region_header_lists_that_regions_pool_alone(
    start_gateway: Any,
    fanned_routes: Callable[[str], Path],
    regional_cases: dict[str, Any],
    listed: list[dict[str, Any]],
    token_minter: TokenMinter,
) -> None:
    gateway = await start_gateway(
        routes_file=fanned_routes(regional_cases["case-wenzhou"].url), from_file=("case",)
    )
    headers = {**bearer(token_minter.mint("c-1")), "x-region-code": "3303"}
    page = (await gateway.get(LISTING, headers=headers)).json()
    assert page == {"items": regional_cases["case-wenzhou"].listing, "next_cursor": None}


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", "eyJsIjogMCwgInAiOiB7fX0", "e30.AAAA"])
async def test_a_cursor_the_gateway_did_not_hand_out_is_refused(
    start_gateway: Any,
    fanned_routes: Callable[[str], Path],
    regional_cases: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
    cursor: str,
) -> None:
    gateway = await start_gateway(
        routes_file=fanned_routes(regional_cases["case-wenzhou"].url), from_file=("case",)
    )
    response = await gateway.get(
        LISTING, params={"cursor": cursor}, headers=bearer(token_minter.mint("c-1"))
    )
    problem(response, 400, "invalid_cursor")


async def test_a_combined_cursor_holds_only_for_the_caller_it_was_handed_to(
    start_gateway: Any,
    fanned_routes: Callable[[str], Path],
    regional_cases: dict[str, Any],
    listed: list[dict[str, Any]],
    token_minter: TokenMinter,
    problem: Problem,
) -> None:
    gateway = await start_gateway(
        routes_file=fanned_routes(regional_cases["case-wenzhou"].url), from_file=("case",)
    )
    mine = bearer(token_minter.mint("c-1"))
    cursor = (await gateway.get(LISTING, params={"limit": 2}, headers=mine)).json()["next_cursor"]

    theirs = await gateway.get(
        LISTING, params={"cursor": cursor}, headers=bearer(token_minter.mint("c-2"))
    )

    problem(theirs, 400, "invalid_cursor")


@pytest.mark.parametrize(
    ("limit", "status"), [("0", 422), ("-1", 422), ("x", 422), ("9" * 40, 200)]
)
async def test_the_limit_follows_the_kits_rule(
    start_gateway: Any,
    fanned_routes: Callable[[str], Path],
    regional_cases: dict[str, Any],
    listed: list[dict[str, Any]],
    token_minter: TokenMinter,
    limit: str,
    status: int,
) -> None:
    gateway = await start_gateway(
        routes_file=fanned_routes(regional_cases["case-wenzhou"].url), from_file=("case",)
    )
    response = await gateway.get(
        LISTING, params={"limit": limit}, headers=bearer(token_minter.mint("c-1"))
    )
    assert response.status_code == status, response.text
