"""Rating rules that hold inside rating-svc. The journey through a real case-svc (rate a
completed case, refuse a second rating, refuse a case that is not completed or not the
caller's) is proven end to end in tests/test_journey.py."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from rating_svc.models import Rating, Rectification
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

GOOD = {"efficiency": 5, "quality": 5, "attitude": 4}


async def test_rating_needs_a_token(client: httpx.AsyncClient, problem: Problem) -> None:
    response = await client.post(
        "/ratings/v1/ratings", json={"case_no": "330302-20261126-000009", **GOOD}
    )
    body = problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["instance"] == "/ratings/v1/ratings"


async def test_scores_outside_one_to_five_are_refused_with_the_fields_named(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": "330302-20261126-000001", "efficiency": 6, "quality": 0, "attitude": 3},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    body = problem(response, 422, "validation_failed")
    assert {error["field"] for error in body["errors"]} == {"body.efficiency", "body.quality"}


@pytest.mark.parametrize("case_no", ["", "x", ":!ç\u0002H", "330302-2026-1", "../cases/v1/cases"])
async def test_a_case_number_not_of_the_platform_form_is_refused(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem, case_no: str
) -> None:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": case_no, **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    body = problem(response, 422, "validation_failed")
    assert [error["field"] for error in body["errors"]] == ["body.case_no"]


async def test_a_case_already_rated_is_refused_before_asking_case_svc(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            Rating(
                case_no="330302-20261126-000001",
                citizen_id="citizen-1",
                department_id="dept-1",
                item_code="item",
                region_code="330302",
                efficiency=5,
                quality=5,
                attitude=5,
            )
        )
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": "330302-20261126-000001", **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    problem(response, 409, "already_rated")


async def test_case_svc_unreachable_is_a_503_and_nothing_is_stored(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app.state.service.http = httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://gateway"
    )
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": "330302-20261126-000002", **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    problem(response, 503, "upstream_unavailable")
    async with app.state.service.database.sessionmaker() as session:
        assert (await session.scalars(select(Rating))).all() == []
        assert (await session.scalars(select(Rectification))).all() == []


async def test_a_staff_token_cannot_rate(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": "330302-20261126-000003", **GOOD},
        headers=bearer(token_minter.mint("staff-1", typ="staff")),
    )
    problem(response, 403, "wrong_principal_type")


async def test_someone_elses_rating_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        rating = Rating(
            case_no="330302-20261126-000004",
            citizen_id="citizen-1",
            department_id="dept-1",
            item_code="item",
            region_code="330302",
            efficiency=1,
            quality=5,
            attitude=5,
        )
        session.add(rating)
    mine = await client.get(
        f"/ratings/v1/ratings/{rating.id}", headers=bearer(token_minter.mint("citizen-1"))
    )
    assert mine.status_code == 200
    assert mine.json()["bad_review"] is True
    theirs = await client.get(
        f"/ratings/v1/ratings/{rating.id}", headers=bearer(token_minter.mint("citizen-2"))
    )
    problem(theirs, 404, "rating_not_found")
