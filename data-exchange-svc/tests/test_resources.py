"""The public catalogue of data resources."""

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from data_exchange_svc.models import DataResource

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def test_the_resource_list_is_public_and_describes_the_population_registry(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/exchange/v1/resources")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    (population,) = [item for item in body["items"] if item["code"] == "population"]
    assert population["owner_department_type"] == "public_security"
    assert population["classification"] == "conditional"
    assert population["hosting"] == "hosted"
    sensitivity = {field["name"]: field["sensitivity"] for field in population["fields"]}
    assert sensitivity == {
        "name": "personal",
        "id_number": "sensitive_personal",
        "sex": "personal",
        "birth_date": "personal",
        "ethnicity": "sensitive_personal",
        "registered_address": "personal",
        "registered_region": "personal",
        "face_template": "sensitive_personal",
        "id_card_status": "personal",
    }
    matchable = {field["name"] for field in population["fields"] if field["matchable"]}
    assert "face_template" not in matchable
    assert "id_number" not in matchable


async def test_the_resource_list_pages_by_cursor(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with app.state.database.sessionmaker.begin() as session:
        session.add(
            DataResource(
                code="aa_test_resource",
                name="测试",
                owner_department_type="civil_affairs",
                classification="unconditional",
                hosting="remote",
            )
        )
    try:
        first = (await client.get("/exchange/v1/resources", params={"limit": 1})).json()
        assert [item["code"] for item in first["items"]] == ["aa_test_resource"]
        assert first["next_cursor"] == "aa_test_resource"
        second = (
            await client.get(
                "/exchange/v1/resources", params={"limit": 1, "cursor": first["next_cursor"]}
            )
        ).json()
        assert [item["code"] for item in second["items"]] == ["population"]
        assert second["next_cursor"] is None
    finally:
        async with app.state.database.sessionmaker.begin() as session:
            await session.execute(
                delete(DataResource).where(DataResource.code == "aa_test_resource")
            )


async def test_one_resource_is_read_by_code_and_an_unknown_one_is_not_found(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    response = await client.get("/exchange/v1/resources/population")
    assert response.status_code == 200
    assert response.json()["code"] == "population"
    problem(await client.get("/exchange/v1/resources/tax_records"), 404, "resource_not_found")
