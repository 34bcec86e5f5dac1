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


def case_svc_answering(case: dict[str, str] | None) -> httpx.AsyncClient:
    """case-svc as the gateway relays it: the case to whoever may read it (None: 404)."""

    def answer(_request: httpx.Request) -> httpx.Response:
        if case is None:
            return httpx.Response(404, json={"code": "case_not_found"})
        return httpx.Response(200, json=case)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://gateway")


async def rated(app: FastAPI, case_no: str, citizen_id: str) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            Rating(
                case_no=case_no,
                citizen_id=citizen_id,
                department_id="330302-public_security",
                item_code="public_security.id_card_loss_report",
                region_code="330302",
                efficiency=5,
                quality=5,
                attitude=5,
            )
        )


async def test_the_applicants_second_rating_of_a_case_is_refused(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    await rated(app, "330302-20261126-000001", "citizen-1")
    app.state.service.http = case_svc_answering(
        {
            "case_no": "330302-20261126-000001",
            "status": "completed",
            "item_code": "public_security.id_card_loss_report",
            "applicant_id": "citizen-1",
            "department_id": "330302-public_security",
            "region_code": "330302",
        }
    )
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": "330302-20261126-000001", **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    problem(response, 409, "already_rated")


async def test_a_stranger_learns_nothing_of_a_case_not_even_that_it_was_rated(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    await rated(app, "330302-20261126-000005", "citizen-1")
    app.state.service.http = case_svc_answering(None)
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": "330302-20261126-000005", **GOOD},
        headers=bearer(token_minter.mint("citizen-2")),
    )
    problem(response, 404, "case_not_found")


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


async def test_a_delegate_sees_the_principals_ratings_of_the_delegated_items_only(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        rating = Rating(
            case_no="330302-20261126-000006",
            citizen_id="citizen-1",
            department_id="330302-public_security",
            item_code="public_security.id_card_loss_report",
            region_code="330302",
            efficiency=5,
            quality=5,
            attitude=5,
        )
        session.add(rating)
    path = f"/ratings/v1/ratings/{rating.id}"

    def acting(*items: str) -> dict[str, str]:
        return bearer(token_minter.mint("citizen-1", act="citizen-2", scope=items))

    covered = await client.get(path, headers=acting("public_security.id_card_loss_report"))
    assert covered.status_code == 200, covered.text
    every_item = await client.get(path, headers=acting())
    assert every_item.status_code == 200, every_item.text
    other_item = await client.get(path, headers=acting("public_security.id_card_replacement"))
    problem(other_item, 404, "rating_not_found")
