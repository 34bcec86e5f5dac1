"""Searching the catalogue the way people ask: colloquial Chinese, pinyin, typos; filters."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog_svc.search.index import SearchIndex

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

SEARCH = "/catalog/v1/items"


async def _search(client: httpx.AsyncClient, **params: str | int) -> list[dict[str, Any]]:
    response = await client.get(SEARCH, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_lost_id_card_finds_the_loss_report_first(client: httpx.AsyncClient) -> None:
    items = await _search(client, q="身份证丢了")
    assert items[0] == {
        "code": "public_security.id_card_loss_report",
        "name": "居民身份证挂失申报",
        "department_type": "public_security",
        "handling_tier": "county",
        "subject": "person",
        "processing_mode": "instant",
        "min_loa": 3,
        "score": items[0]["score"],
        # No case of it completed or rated yet in this catalogue.
        "quality": {
            "ratings": 0,
            "satisfaction_rate": None,
            "bad_review_rate": None,
            "completed_cases": 0,
            "median_working_days": None,
            "promised_working_days": 0,
        },
    }
    assert items[0]["score"] > items[1]["score"]
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("身份证丢了怎么办", "居民身份证挂失申报"),
        ("我的身份证掉了", "居民身份证挂失申报"),
        ("sfzgs", "居民身份证挂失申报"),  # pinyin initials
        ("shenfenzheng guashi", "居民身份证挂失申报"),  # full pinyin, two words
        ("身分证挂失", "居民身份证挂失申报"),  # 分 for 份: a sound-alike slip
        ("身份正挂失", "居民身份证挂失申报"),  # 正 for 证
        ("公基金提取", "住房公积金提取"),  # 基 for 积
        ("驾照丢了", "机动车驾驶证补领"),
        ("开公司", "企业设立登记"),
        ("交水费", "水电气缴费"),
        ("看病挂号", "医院预约挂号"),
        ("社保卡丢了", "社会保障卡挂失"),
        ("违章", "交通违法处理"),
        ("结婚", "内地居民结婚登记"),
    ],
)
async def test_people_find_the_item_they_mean(
    client: httpx.AsyncClient, query: str, first: str
) -> None:
    items = await _search(client, q=query)
    assert items, f"nothing found for {query}"
    assert items[0]["name"] == first


async def _everything(client: httpx.AsyncClient, **params: str | int) -> list[dict[str, Any]]:
    """Every page of a search."""
    found: list[dict[str, Any]] = []
    query: dict[str, str | int] = {"limit": 50, **params}
    while True:
        body = (await client.get(SEARCH, params=query)).json()
        found += body["items"]
        if body["next_cursor"] is None:
            return found
        query = {"limit": 50, **params, "cursor": body["next_cursor"]}


@pytest.mark.parametrize("query", ["公积金", "gongjijin", "gjj提取", "gongjijn", "公基金"])
async def test_provident_fund_queries_find_the_provident_fund_items_first(
    client: httpx.AsyncClient, query: str
) -> None:
    items = await _search(client, q=query)
    # The plain withdrawal first (its name is mostly the query), then other fund items.
    assert items[0]["name"] == "住房公积金提取"
    assert {item["department_type"] for item in items[:5]} == {"housing_provident_fund"}


@pytest.mark.parametrize("query", ["xyzzy", "了", "   ", "的了吗"])
async def test_a_query_with_nothing_to_match_finds_nothing(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(SEARCH, params={"q": query})
    body = response.json()
    if query.strip():
        assert body["items"] == []
        assert body["next_cursor"] is None
        assert body["facets"] == {
            "department_type": {},
            "handling_tier": {},
            "subject": {},
            "topic": {},
        }
    else:
        assert body["items"]  # blank: browsing


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        ({"subject": "enterprise"}, lambda item: item["subject"] == "enterprise"),
        ({"department_type": "tax"}, lambda item: item["department_type"] == "tax"),
        ({"tier": "city"}, lambda item: item["handling_tier"] == "city"),
    ],
)
async def test_filters_keep_only_matching_items(
    client: httpx.AsyncClient, filters: dict[str, str], check: Callable[[dict[str, Any]], bool]
) -> None:
    items = await _everything(client, **filters)
    assert items
    assert all(check(item) for item in items)
    everything = await _everything(client)
    assert len(items) == sum(1 for item in everything if check(item))


async def test_a_filtered_search_still_ranks(client: httpx.AsyncClient) -> None:
    items = await _search(client, q="登记", subject="enterprise")
    assert items
    assert all(item["subject"] == "enterprise" for item in items)
    assert items[0]["score"] is not None


@pytest.mark.parametrize(
    ("region", "present"),
    [
        ("330302026003", False),  # a Songtai resident: no quota scheme in Wenzhou
        ("330106", True),  # 西湖区, Hangzhou
        ("3301", True),
        ("33", True),  # the whole province overlaps Hangzhou
    ],
)
async def test_the_region_filter_keeps_items_offered_there(
    client: httpx.AsyncClient, region: str, present: bool
) -> None:
    names = {item["name"] for item in await _search(client, q="摇号", region=region)}
    assert ("小客车总量调控指标申请" in names) is present


async def test_the_region_filter_drops_items_no_department_serves_there(
    client: httpx.AsyncClient,
) -> None:
    songtai = {item["code"] for item in await _everything(client, region="330302026003")}
    longgang = {item["code"] for item in await _everything(client, region="330383198001")}
    township_item = "convenience_service.resident_medical_insurance_enrolment"
    assert township_item in songtai
    assert township_item not in longgang
    assert "public_security.id_card_loss_report" in songtai & longgang


async def test_a_retired_region_filters_as_its_successor(client: httpx.AsyncClient) -> None:
    old = await _everything(client, region="330103")
    new = await _everything(client, region="330105")
    assert old == new


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"region": "33x"}, 422, "invalid_region_code", None),
        ({"region": "330399"}, 404, "region_not_found", None),
        ({"subject": "robot"}, 422, "validation_failed", "query.subject"),
        ({"tier": "village"}, 422, "validation_failed", "query.tier"),
        ({"limit": 0}, 422, "validation_failed", "query.limit"),
        ({"limit": "many"}, 422, "validation_failed", "query.limit"),
        ({"q": "字" * 101}, 422, "validation_failed", "query.q"),
        ({"cursor": "garbage!"}, 400, "invalid_cursor", None),
    ],
)
async def test_bad_search_parameters_are_refused(
    client: httpx.AsyncClient,
    problem: Problem,
    params: dict[str, str | int],
    status: int,
    code: str,
    field: str | None,
) -> None:
    body = problem(await client.get(SEARCH, params=params), status, code)
    if field is not None:
        assert [error["field"] for error in body["errors"]] == [field]


async def test_browsing_pages_through_every_published_item(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    index: SearchIndex = app.state.service.catalog.snapshot.index
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 50}
    while True:
        body = (await client.get(SEARCH, params=params)).json()
        seen += [item["code"] for item in body["items"]]
        assert all(item["score"] is None for item in body["items"])
        if body["next_cursor"] is None:
            break
        params = {"limit": 50, "cursor": body["next_cursor"]}
    assert seen == sorted(seen)
    assert len(seen) == len(index) >= 430


async def test_a_cursor_only_continues_its_own_query(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    first = (await client.get(SEARCH, params={"q": "证明", "limit": 1})).json()
    assert first["next_cursor"] is not None
    following = await client.get(
        SEARCH, params={"q": "证明", "limit": 1, "cursor": first["next_cursor"]}
    )
    assert following.status_code == 200
    assert following.json()["items"] != first["items"]
    elsewhere = await client.get(
        SEARCH, params={"q": "挂失", "limit": 1, "cursor": first["next_cursor"]}
    )
    problem(elsewhere, 400, "invalid_cursor")


async def test_the_dictionary_is_loaded_before_the_first_request(app: FastAPI) -> None:
    index: SearchIndex = app.state.service.catalog.snapshot.index
    assert index.segmenter.ready


async def test_facets_count_every_match_not_only_the_page(client: httpx.AsyncClient) -> None:
    body = (await client.get(SEARCH, params={"q": "公积金", "limit": 2})).json()
    everything = await _everything(client, q="公积金")
    facets = body["facets"]
    assert len(body["items"]) == 2
    assert sum(facets["subject"].values()) == len(everything) > 2
    assert facets["department_type"]["housing_provident_fund"] == sum(
        1 for item in everything if item["department_type"] == "housing_provident_fund"
    )
    counts = list(facets["department_type"].values())
    assert counts == sorted(counts, reverse=True)


async def test_facets_follow_the_filters(client: httpx.AsyncClient) -> None:
    facets = (await client.get(SEARCH, params={"q": "登记", "subject": "enterprise"})).json()[
        "facets"
    ]
    assert set(facets["subject"]) == {"enterprise"}
    assert facets["topic"]
