"""Conditional reads: ETag and Cache-Control on every read, 304 when the client has it."""

import httpx
import pytest

READS = [
    "/catalog/v1/items/public_security.id_card_loss_report",
    "/catalog/v1/items/public_security.id_card_loss_report/handler?region=330302026003",
    "/catalog/v1/items?q=身份证丢了",
    "/catalog/v1/regions/330302026",
    "/catalog/v1/regions/3303/children",
    "/catalog/v1/bundles",
    "/catalog/v1/bundles/birth",
]


@pytest.mark.parametrize("path", READS)
async def test_a_read_carries_its_validators(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"] == "application/json"
    assert response.json()


@pytest.mark.parametrize("path", READS)
async def test_revalidating_an_unchanged_answer_returns_304_without_a_body(
    client: httpx.AsyncClient, path: str
) -> None:
    etag = (await client.get(path)).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(path, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag


async def test_a_stale_validator_gets_the_full_answer(client: httpx.AsyncClient) -> None:
    path = READS[0]
    response = await client.get(path, headers={"If-None-Match": '"not-this-one"'})
    assert response.status_code == 200
    assert response.json()["code"] == "public_security.id_card_loss_report"


async def test_different_answers_have_different_etags(client: httpx.AsyncClient) -> None:
    first = await client.get("/catalog/v1/items/public_security.id_card_loss_report")
    second = await client.get("/catalog/v1/items/housing_provident_fund.withdrawal")
    assert first.headers["etag"] != second.headers["etag"]


async def test_problems_carry_no_etag(client: httpx.AsyncClient) -> None:
    response = await client.get("/catalog/v1/items/public_security.nothing")
    assert response.status_code == 404
    assert "etag" not in response.headers
