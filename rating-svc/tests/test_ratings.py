"""Rating rules that hold inside rating-svc, against case-svc as the gateway relays it. The
journey through a real case-svc is proven end to end in tests/test_journey.py and
tests/test_rectification.py."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from rating_svc.models import Invitation, Rating, Rectification
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
#: The test clock (conftest's ``Clock``, moved by hand) and case-svc as the gateway relays it.
Clock = Any
CaseSvc = Callable[..., None]
ACase = Callable[..., dict[str, Any]]

BUREAU = "330302-public_security"
LOSS_REPORT = "public_security.id_card_loss_report"

CASE_NO = "330302-20261207-000001"
GOOD = {"level": 5, "efficiency": 5, "quality": 5, "attitude": 4}


async def ratings_in(app: FastAPI) -> list[Rating]:
    async with app.state.service.database.sessionmaker() as session:
        return list((await session.scalars(select(Rating))).all())


async def test_rating_needs_a_token(client: httpx.AsyncClient, problem: Problem) -> None:
    response = await client.post("/ratings/v1/ratings", json={"case_no": CASE_NO, **GOOD})
    body = problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["instance"] == "/ratings/v1/ratings"


async def test_levels_and_scores_outside_one_to_five_are_refused_with_the_fields_named(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "level": 6, "efficiency": 0, "quality": 3},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    body = problem(response, 422, "validation_failed")
    assert {error["field"] for error in body["errors"]} == {"body.level", "body.efficiency"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("comment", "好" * 501),
        ("comment", ""),
        ("channel", "fax"),
        ("tags", ["fast"] * 11),
        ("tags", ["Not A Code"]),
    ],
)
async def test_a_comment_past_its_limits_an_unknown_channel_or_malformed_tags_are_refused(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    field: str,
    value: Any,
) -> None:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, **GOOD, field: value},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    body = problem(response, 422, "validation_failed")
    assert {error["field"].split(".")[1] for error in body["errors"]} == {field}


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


async def test_the_applicant_rates_her_completed_case_with_a_level_tags_a_comment_and_a_channel(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    response = await client.post(
        "/ratings/v1/ratings",
        json={
            "case_no": CASE_NO,
            "level": 4,
            "quality": 4,
            "tags": ["fast", "courteous", "fast"],
            "comment": "窗口的王师傅很耐心，电话13957700000",
            "channel": "counter_device",
        },
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/ratings/v1/ratings/{body['id']}"
    assert {key: body[key] for key in ("level", "level_key", "bad_review", "tags", "channel")} == {
        "level": 4,
        "level_key": "satisfied",
        "bad_review": False,
        "tags": ["fast", "courteous"],
        "channel": "counter_device",
    }
    assert (body["efficiency"], body["quality"], body["attitude"]) == (None, 4, None)
    assert body["rated_by"] is None
    assert body["comment"] == "窗口的王师傅很耐心，电话13957700000"
    # The comment is sealed at rest: the column holds no word of it.
    async with app.state.service.database.sessionmaker() as session:
        stored = await session.scalar(text("SELECT comment FROM rating"))
    assert "13957700000" not in stored
    assert "王师傅" not in stored
    mine = await client.get(
        f"/ratings/v1/ratings/{body['id']}", headers=bearer(token_minter.mint("citizen-1"))
    )
    assert mine.json() == body


async def test_tags_of_another_level_are_refused_and_nothing_is_stored(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "level": 5, "tags": ["fast", "overdue", "poor_attitude"]},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    body = problem(response, 422, "tags_not_of_level")
    assert (body["level"], body["tags"]) == (5, ["overdue", "poor_attitude"])
    assert await ratings_in(app) == []


async def test_the_levels_are_five_the_two_lowest_bad_reviews_each_with_its_tags(
    client: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    response = await client.get("/ratings/v1/levels")
    assert response.status_code == 200, response.text
    levels = response.json()["items"]
    assert [(level["level"], level["key"], level["bad_review"]) for level in levels] == [
        (5, "very_satisfied", False),
        (4, "satisfied", False),
        (3, "basically_satisfied", False),
        (2, "dissatisfied", True),
        (1, "very_dissatisfied", True),
    ]
    assert all(level["tags"] for level in levels)


async def test_the_applicants_second_rating_of_a_case_is_refused(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    citizen = bearer(token_minter.mint("citizen-1"))
    first = await client.post(
        "/ratings/v1/ratings", json={"case_no": CASE_NO, **GOOD}, headers=citizen
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        "/ratings/v1/ratings", json={"case_no": CASE_NO, "level": 1}, headers=citizen
    )
    body = problem(again, 409, "already_rated")
    assert body["case_no"] == CASE_NO


async def test_a_rated_case_stays_already_rated_after_its_window_closes(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    citizen = bearer(token_minter.mint("citizen-1"))
    first = await client.post(
        "/ratings/v1/ratings", json={"case_no": CASE_NO, **GOOD}, headers=citizen
    )
    assert first.status_code == 201, first.text
    clock.now += app.state.service.settings.rating_window
    again = await client.post(
        "/ratings/v1/ratings", json={"case_no": CASE_NO, "level": 1}, headers=citizen
    )
    body = problem(again, 409, "already_rated")
    assert body["case_no"] == CASE_NO


@pytest.mark.parametrize("status", ["completed", "in_review"])
async def test_a_stranger_learns_nothing_of_a_case_whatever_its_state_not_even_that_it_was_rated(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
    status: str,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1", status=status))
    if status == "completed":
        rated = await client.post(
            "/ratings/v1/ratings",
            json={"case_no": CASE_NO, **GOOD},
            headers=bearer(token_minter.mint("citizen-1")),
        )
        assert rated.status_code == 201, rated.text
    # Long past the window too: nothing but "not yours".
    clock.now += dt.timedelta(days=400)
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "level": 1, "tags": ["nonsense"]},
        headers=bearer(token_minter.mint("citizen-2")),
    )
    problem(response, 404, "case_not_found")


async def test_a_case_someone_else_filed_is_not_found_even_when_case_svc_shows_it(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    app: FastAPI,
    clock: Clock,
    a_case: ACase,
) -> None:
    """Whoever case-svc lets read a case (its department's staff do), only its applicant
    rates it."""

    def shown_to_anyone(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=a_case(CASE_NO, "citizen-1"))

    app.state.service.http = httpx.AsyncClient(
        transport=httpx.MockTransport(shown_to_anyone), base_url="http://gateway"
    )
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, **GOOD},
        headers=bearer(token_minter.mint("citizen-2")),
    )
    problem(response, 404, "case_not_found")


async def test_a_case_not_completed_cannot_be_rated_yet(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1", status="in_review", completed_at=None))
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    body = problem(response, 409, "case_not_completed")
    assert body["case_status"] == "in_review"


async def test_a_case_is_rated_within_the_window_after_its_completion_and_not_after(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    completed = clock.now - dt.timedelta(hours=1)
    case_svc(
        a_case(CASE_NO, "citizen-1"),
        a_case("330302-20261207-000002", "citizen-1"),
    )
    window = app.state.service.settings.rating_window
    clock.now = completed + window
    late = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    body = problem(late, 409, "rating_window_closed")
    assert dt.datetime.fromisoformat(body["closed_at"]) == completed + window
    clock.now = completed + window - dt.timedelta(seconds=1)
    in_time = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": "330302-20261207-000002", **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert in_time.status_code == 201, in_time.text


async def test_a_delegates_rating_is_recorded_with_both_ids(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    other_item = bearer(
        token_minter.mint("citizen-1", act="delegate-1", scope=("civil_affairs.marriage",))
    )
    refused = await client.post(
        "/ratings/v1/ratings", json={"case_no": CASE_NO, **GOOD}, headers=other_item
    )
    problem(refused, 404, "case_not_found")
    covered = bearer(token_minter.mint("citizen-1", act="delegate-1", scope=(LOSS_REPORT,)))
    response = await client.post(
        "/ratings/v1/ratings", json={"case_no": CASE_NO, **GOOD}, headers=covered
    )
    assert response.status_code == 201, response.text
    assert response.json()["rated_by"] == "delegate-1"
    (rating,) = await ratings_in(app)
    assert (rating.applicant_id, rating.actor_id) == ("citizen-1", "delegate-1")


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
        json={"case_no": CASE_NO, **GOOD},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    problem(response, 503, "upstream_unavailable")
    async with app.state.service.database.sessionmaker() as session:
        assert (await session.scalars(select(Rating))).all() == []
        assert (await session.scalars(select(Rectification))).all() == []
        assert (await session.scalars(select(Invitation))).all() == []


@pytest.mark.parametrize("typ", ["staff", "department_system", "service"])
async def test_only_residents_and_enterprises_rate(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem, typ: Any
) -> None:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, **GOOD},
        headers=bearer(token_minter.mint("someone", typ=typ, dept=BUREAU)),
    )
    problem(response, 403, "wrong_principal_type")


def stored_rating(case_no: str, applicant_id: str, level: int = 5) -> Rating:
    return Rating(
        case_no=case_no,
        kind="case",
        applicant_id=applicant_id,
        applicant_type="citizen",
        department_id=BUREAU,
        item_code=LOSS_REPORT,
        region_code="330302",
        level=level,
        bad_review=level <= 2,
        tags=[],
        channel="app",
    )


async def test_someone_elses_rating_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        rating = stored_rating("330302-20261126-000004", "citizen-1", level=1)
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
        rating = stored_rating("330302-20261126-000006", "citizen-1")
        session.add(rating)
    path = f"/ratings/v1/ratings/{rating.id}"

    def acting(*items: str) -> dict[str, str]:
        return bearer(token_minter.mint("citizen-1", act="citizen-2", scope=items))

    covered = await client.get(path, headers=acting(LOSS_REPORT))
    assert covered.status_code == 200, covered.text
    every_item = await client.get(path, headers=acting())
    assert every_item.status_code == 200, every_item.text
    other_item = await client.get(path, headers=acting("public_security.id_card_replacement"))
    problem(other_item, 404, "rating_not_found")
