"""Region lookups over HTTP: every written form, ancestors, retired codes, children."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

SONGTAI_ANCESTORS = [
    {"code": "330000", "name": "浙江省", "level": "province"},
    {"code": "330300", "name": "温州市", "level": "city"},
    {"code": "330302", "name": "鹿城区", "level": "county"},
]


@pytest.mark.parametrize(
    ("written", "code", "name", "level"),
    [
        ("33", "330000", "浙江省", "province"),
        ("330000", "330000", "浙江省", "province"),
        ("3303", "330300", "温州市", "city"),
        ("330300", "330300", "温州市", "city"),
        ("330300000000", "330300", "温州市", "city"),
        ("330302", "330302", "鹿城区", "county"),
        ("330302000", "330302", "鹿城区", "county"),
        ("330302000000", "330302", "鹿城区", "county"),
        ("330302026", "330302026", "松台街道", "township"),
        ("330302026000", "330302026", "松台街道", "township"),
        ("330302026003", "330302026003", "庆年坊社区", "village"),
    ],
)
async def test_every_written_form_finds_the_same_region(
    client: httpx.AsyncClient, written: str, code: str, name: str, level: str
) -> None:
    response = await client.get(f"/catalog/v1/regions/{written}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["name"], body["level"]) == (code, name, level)
    assert body["status"] == "current"
    assert body["successor_code"] is None


async def test_a_village_comes_with_its_ancestors_province_first(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/catalog/v1/regions/330302026003")).json()
    assert body["parent_code"] == "330302026"
    assert body["prefix"] == "330302026003"
    assert body["ancestors"] == [
        *SONGTAI_ANCESTORS,
        {"code": "330302026", "name": "松台街道", "level": "township"},
    ]


async def test_the_province_has_no_parent_and_no_ancestors(client: httpx.AsyncClient) -> None:
    body = (await client.get("/catalog/v1/regions/330000")).json()
    assert body["parent_code"] is None
    assert body["ancestors"] == []


@pytest.mark.parametrize(
    ("code", "name", "successor"),
    [
        # Hangzhou's 2021 reorganisation (国函〔2021〕20号), added to the change records
        ("330103", "下城区", "330105"),
        ("330104", "江干区", "330102"),
        # recoded when the county became a city, then a district: the chain ends at today's
        ("330181", "萧山市", "330109"),
        ("339001", "余姚市", "330281"),
        # 1982 handed codes round: 330322 went to 洞头县, which is 洞头区 (330305) today, while
        # the code 洞头县 left (330321) went to 瓯海县, today 瓯海区 (330304)
        ("330322", "洞头县", "330305"),
        ("330321", "瓯海县", "330304"),
        # abolished with no successor in the records
        ("330301", "东城区", None),
    ],
)
async def test_a_retired_code_is_known_and_leads_to_its_successor(
    client: httpx.AsyncClient, code: str, name: str, successor: str | None
) -> None:
    response = await client.get(f"/catalog/v1/regions/{code}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["status"], body["successor_code"]) == (name, "retired", successor)
    if successor is not None:
        followed = (await client.get(f"/catalog/v1/regions/{successor}")).json()
        assert followed["status"] == "current"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("330302", "鹿城区"),  # once 南城区, then 城区: the change records mention it as old
        ("330105", "拱墅区"),  # "撤县设区" onto itself in the 2021 records
        ("330110", "余杭区"),  # the records' 2021 row renames it 临平区; MCA 2025 says 余杭区
    ],
)
async def test_a_retired_code_never_shadows_a_current_one(
    client: httpx.AsyncClient, code: str, name: str
) -> None:
    body = (await client.get(f"/catalog/v1/regions/{code}")).json()
    assert (body["name"], body["status"]) == (name, "current")


@pytest.mark.parametrize(
    "written",
    ["abc", "3303000", "330", "00", "000000", "330030", "330300000001x", "1234567890123", "３３"],
)
async def test_a_malformed_code_is_refused(
    client: httpx.AsyncClient, problem: Problem, written: str
) -> None:
    problem(await client.get(f"/catalog/v1/regions/{written}"), 422, "invalid_region_code")


@pytest.mark.parametrize("written", ["330399", "110000", "330302026999", "330302999"])
async def test_an_unknown_code_is_not_found(
    client: httpx.AsyncClient, problem: Problem, written: str
) -> None:
    problem(await client.get(f"/catalog/v1/regions/{written}"), 404, "region_not_found")


async def test_children_of_a_city_are_its_current_counties_by_code(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/catalog/v1/regions/3303/children")).json()
    codes = [child["code"] for child in body["items"]]
    assert codes == sorted(codes)
    assert len(codes) == 12
    assert {"code": "330302", "name": "鹿城区", "level": "county", "status": "current"} in body[
        "items"
    ]
    assert "330301" not in codes  # retired: not part of today's tree
    assert body["next_cursor"] is None


async def test_children_come_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    whole = (await client.get("/catalog/v1/regions/330302026/children")).json()["items"]
    assert len(whole) == 12
    collected: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 5}
    while True:
        page = (await client.get("/catalog/v1/regions/330302026/children", params=params)).json()
        collected += page["items"]
        if page["next_cursor"] is None:
            break
        assert len(page["items"]) == 5
        params = {"limit": 5, "cursor": page["next_cursor"]}
    assert collected == whole
    assert {
        "code": "330302026003",
        "name": "庆年坊社区",
        "level": "village",
        "status": "current",
    } in (collected)


async def test_a_village_has_no_children(client: httpx.AsyncClient) -> None:
    body = (await client.get("/catalog/v1/regions/330302026003/children")).json()
    assert body == {"items": [], "next_cursor": None}


async def test_a_cursor_not_given_out_for_this_list_is_refused(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    hangzhou = await client.get("/catalog/v1/regions/3301/children", params={"limit": 1})
    for cursor in ["not-base64!", "bm90IGpzb24", hangzhou.json()["next_cursor"]]:
        response = await client.get("/catalog/v1/regions/3303/children", params={"cursor": cursor})
        problem(response, 400, "invalid_cursor")


async def test_children_of_a_malformed_or_unknown_code(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    problem(await client.get("/catalog/v1/regions/33x/children"), 422, "invalid_region_code")
    problem(await client.get("/catalog/v1/regions/330399/children"), 404, "region_not_found")
