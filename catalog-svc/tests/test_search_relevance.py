"""The relevance test set (data/search_relevance.toml): how people really ask, and the item they
mean. The share found in the top five must stay at or above 95 %."""

import tomllib
from collections import Counter
from typing import Any

import httpx

from catalog_svc.settings import DEFAULT_DATA_DIR

RELEVANCE_FILE = DEFAULT_DATA_DIR / "search_relevance.toml"
TARGET_TOP5_SHARE = 0.95


def _cases() -> list[dict[str, Any]]:
    with RELEVANCE_FILE.open("rb") as handle:
        cases: list[dict[str, Any]] = tomllib.load(handle)["cases"]
    return cases


def test_the_set_is_large_and_asks_in_every_way() -> None:
    cases = _cases()
    assert len(cases) >= 60
    assert len({case["query"] for case in cases}) == len(cases)
    kinds = Counter(case["kind"] for case in cases)
    assert set(kinds) == {"colloquial", "official", "pinyin", "initials", "typo"}
    assert kinds["colloquial"] >= len(cases) // 2


async def test_at_least_95_percent_of_the_queries_find_their_item_in_the_top_five(
    client: httpx.AsyncClient,
) -> None:
    cases = _cases()
    missed: list[tuple[str, str, list[str]]] = []
    for case in cases:
        expected = await client.get(f"/catalog/v1/items/{case['expect']}")
        assert expected.status_code == 200, f"{case['expect']} is no item"
        assert expected.json()["status"] == "published"
        response = await client.get("/catalog/v1/items", params={"q": case["query"], "limit": 5})
        top = [item["code"] for item in response.json()["items"]]
        if case["expect"] not in top:
            missed.append((case["query"], case["expect"], top))
    share = 1 - len(missed) / len(cases)
    assert share >= TARGET_TOP5_SHARE, f"top-5 share {share:.1%}; missed: {missed}"
