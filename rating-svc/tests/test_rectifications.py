"""Rectification of bad reviews: opened by every one, owned by the handling department, on the
clock in working days, escalated to the tier above when a step is overdue, closed by the
citizen's follow-up rating. The whole loop between real processes is in
tests/test_rectification.py."""

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from rating_svc.rectifications import service as rectifications
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Clock = Any
CaseSvc = Callable[..., None]
ACase = Callable[..., dict[str, Any]]

CASE_NO = "330302-20261207-000001"
BUREAU = "330302-public_security"
CITY_BUREAU = "330300-public_security"
#: Monday 7 December 2026, 10:00 in Wenzhou (the test clock's morning).
MONDAY_MORNING = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def staff(token_minter: TokenMinter) -> Callable[..., dict[str, str]]:
    def token(*roles: str, dept: str = BUREAU, sub: str | None = None) -> dict[str, str]:
        who = sub or f"{dept}-{'-'.join(roles) or 'nobody'}"
        return bearer(token_minter.mint(who, typ="staff", loa=2, roles=roles, dept=dept))

    return token


@pytest.fixture
async def bad_review(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> dict[str, Any]:
    """citizen-1's very dissatisfied review of her completed loss report, given on Monday."""
    case_svc(a_case(CASE_NO, "citizen-1"))
    response = await client.post(
        "/ratings/v1/ratings",
        json={
            "case_no": CASE_NO,
            "level": 1,
            "efficiency": 1,
            "tags": ["repeated_visits"],
            "comment": "跑了三趟，电话13957700000",
        },
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert response.status_code == 201, response.text
    rating: dict[str, Any] = response.json()
    return rating


async def read(
    client: httpx.AsyncClient, rectification_id: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.get(f"/ratings/v1/rectifications/{rectification_id}", headers=headers)


async def call_back(
    client: httpx.AsyncClient,
    rectification_id: str,
    headers: dict[str, str],
    *,
    at: dt.datetime = MONDAY_MORNING,
) -> httpx.Response:
    return await client.post(
        f"/ratings/v1/rectifications/{rectification_id}/call-back",
        json={"called_back_at": at.isoformat(), "channel": "phone", "note": "已致歉，约定整改"},
        headers=headers,
    )


async def rectify(
    client: httpx.AsyncClient, rectification_id: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/ratings/v1/rectifications/{rectification_id}/rectification",
        json={"note": "增设自助取号机，高峰时段增开窗口"},
        headers=headers,
    )


async def follow_up(
    client: httpx.AsyncClient, token_minter: TokenMinter, level: int = 4, citizen: str = "citizen-1"
) -> httpx.Response:
    return await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "kind": "follow_up", "level": level},
        headers=bearer(token_minter.mint(citizen)),
    )


def local(instant: str) -> tuple[dt.date, dt.time]:
    shanghai = dt.datetime.fromisoformat(instant).astimezone(dt.timezone(dt.timedelta(hours=8)))
    return shanghai.date(), shanghai.time()


async def test_a_bad_review_opens_a_rectification_due_in_1_and_15_working_days(
    client: httpx.AsyncClient, bad_review: dict[str, Any], staff: Callable[..., dict[str, str]]
) -> None:
    assert bad_review["bad_review"] is True
    assert bad_review["rectification_id"] is not None
    response = await read(client, bad_review["rectification_id"], staff("handler"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "awaiting_call_back"
    assert body["department_id"] == BUREAU
    # Monday's review: called back by Tuesday night, rectified by the 15th working day after.
    assert local(body["call_back_due_at"]) == (dt.date(2026, 12, 8), dt.time(23, 59, 59))
    assert local(body["rectification_due_at"]) == (dt.date(2026, 12, 28), dt.time(23, 59, 59))
    assert body["review"]["comment"] == "跑了三趟，电话13957700000"
    assert body["review"]["tags"] == ["repeated_visits"]
    (opened,) = body["history"]
    assert (opened["action"], opened["actor_role"], opened["actor_id"]) == (
        "opened",
        "applicant",
        "citizen-1",
    )


@pytest.mark.parametrize("level", [5, 4, 3])
async def test_a_review_that_is_not_bad_opens_none(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
    staff: Callable[..., dict[str, str]],
    level: int,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "level": level},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert response.json()["rectification_id"] is None
    queue = await client.get("/ratings/v1/rectifications", headers=staff("handler"))
    assert queue.json()["items"] == []


async def test_the_departments_handlers_and_supervisors_see_it_in_their_queue_and_no_one_else(
    client: httpx.AsyncClient,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    problem: Problem,
) -> None:
    rectification_id = bad_review["rectification_id"]
    for roles in (("handler",), ("supervisor",)):
        queue = await client.get("/ratings/v1/rectifications", headers=staff(*roles))
        assert [item["id"] for item in queue.json()["items"]] == [rectification_id]
        assert queue.json()["items"][0]["level"] == 1
    other = staff("handler", "supervisor", dept="330302-civil_affairs")
    assert (await client.get("/ratings/v1/rectifications", headers=other)).json()["items"] == []
    problem(await read(client, rectification_id, other), 404, "rectification_not_found")
    # The tier above sees it once a step is overdue, not before.
    above = staff("supervisor", dept=CITY_BUREAU)
    problem(await read(client, rectification_id, above), 404, "rectification_not_found")
    no_role = staff("catalog_admin")
    problem(
        await client.get("/ratings/v1/rectifications", headers=no_role),
        403,
        "no_rectification_role",
    )
    problem(await read(client, rectification_id, no_role), 403, "no_rectification_role")
    filtered = await client.get(
        "/ratings/v1/rectifications", params={"status": "closed"}, headers=staff("handler")
    )
    assert filtered.json()["items"] == []


async def test_the_department_calls_back_then_rectifies_and_the_follow_up_rating_closes_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    clock: Clock,
    problem: Problem,
) -> None:
    rectification_id = bad_review["rectification_id"]
    handler = staff("handler", sub="handler-1")
    # Not yet: the rectification is reported after the call-back, the follow-up after that.
    problem(await rectify(client, rectification_id, handler), 409, "rectification_step_not_allowed")
    problem(await follow_up(client, token_minter), 409, "follow_up_not_due")

    clock.now = MONDAY_MORNING + dt.timedelta(hours=2)
    called = await call_back(client, rectification_id, handler)
    assert called.status_code == 200, called.text
    assert called.json()["status"] == "rectifying"
    assert called.json()["call_back"]["channel"] == "phone"
    assert called.json()["call_back"]["note"] == "已致歉，约定整改"
    problem(
        await call_back(client, rectification_id, handler), 409, "rectification_step_not_allowed"
    )

    rectified = await rectify(client, rectification_id, staff("supervisor", sub="supervisor-1"))
    assert rectified.status_code == 200, rectified.text
    assert rectified.json()["status"] == "awaiting_follow_up"
    assert rectified.json()["rectification_note"] == "增设自助取号机，高峰时段增开窗口"

    invited = await client.get(
        "/ratings/v1/invitations", headers=bearer(token_minter.mint("citizen-1"))
    )
    (invitation,) = invited.json()["items"]
    assert (invitation["kind"], invitation["rectification_id"]) == ("follow_up", rectification_id)

    closed = await follow_up(client, token_minter, level=4)
    assert closed.status_code == 201, closed.text
    assert closed.json()["kind"] == "follow_up"
    assert closed.json()["rectification_id"] == rectification_id
    problem(await follow_up(client, token_minter), 409, "already_rated")

    body = (await read(client, rectification_id, handler)).json()
    assert body["status"] == "closed"
    assert body["follow_up_rating_id"] == closed.json()["id"]
    assert [(entry["action"], entry["actor_role"]) for entry in body["history"]] == [
        ("opened", "applicant"),
        ("call_back", "handler"),
        ("rectify", "supervisor"),
        ("follow_up", "applicant"),
    ]
    assert (
        await client.get("/ratings/v1/invitations", headers=bearer(token_minter.mint("citizen-1")))
    ).json()["items"] == []
    # What the citizen said and what the department wrote are sealed at rest.
    async with app.state.service.database.sessionmaker() as session:
        stored = " ".join(
            str(value)
            for value in (
                await session.execute(
                    text("SELECT call_back_note, rectification_note FROM rectification")
                )
            ).one()
        )
        notes = " ".join(
            str(note)
            for note in (await session.scalars(text("SELECT note FROM rectification_event"))).all()
        )
    for said in ("致歉", "取号机"):
        assert said not in stored
        assert said not in notes


async def test_the_citizen_reads_her_rectification_without_the_staff_named_and_others_cannot(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    problem: Problem,
) -> None:
    rectification_id = bad_review["rectification_id"]
    await call_back(client, rectification_id, staff("handler", sub="handler-1"))
    mine = await read(client, rectification_id, bearer(token_minter.mint("citizen-1")))
    assert mine.status_code == 200, mine.text
    assert [entry["actor_id"] for entry in mine.json()["history"]] == ["citizen-1", None]
    for stranger in (
        token_minter.mint("citizen-2"),
        token_minter.mint("citizen-1", act="delegate-1", scope=("civil_affairs.marriage",)),
    ):
        problem(
            await read(client, rectification_id, bearer(stranger)), 404, "rectification_not_found"
        )


async def test_a_stranger_cannot_rate_a_rectification_and_learns_nothing_of_it(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    problem: Problem,
) -> None:
    problem(await follow_up(client, token_minter, citizen="citizen-2"), 404, "case_not_found")


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"called_back_at": "2026-12-07T01:00:00Z"}, "call_back_time_invalid"),
        ({"called_back_at": "2026-12-08T01:00:00Z"}, "call_back_time_invalid"),
        ({"called_back_at": "2026-12-07T03:00:00"}, "validation_failed"),
        ({"channel": "telegram"}, "validation_failed"),
        ({"note": ""}, "validation_failed"),
        ({"note": "话" * 2001}, "validation_failed"),
    ],
)
async def test_a_call_back_before_the_review_in_the_future_or_malformed_is_refused(
    client: httpx.AsyncClient,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    problem: Problem,
    values: dict[str, Any],
    code: str,
) -> None:
    body = {"called_back_at": "2026-12-07T02:30:00Z", "channel": "phone", "note": "已回访"}
    response = await client.post(
        f"/ratings/v1/rectifications/{bad_review['rectification_id']}/call-back",
        json={**body, **values},
        headers=staff("handler"),
    )
    problem(response, 422, code)


async def test_only_the_departments_own_staff_take_its_steps(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    problem: Problem,
) -> None:
    rectification_id = bad_review["rectification_id"]
    problem(
        await call_back(client, rectification_id, bearer(token_minter.mint("citizen-1"))),
        403,
        "wrong_principal_type",
    )
    problem(
        await call_back(client, rectification_id, staff("catalog_admin")),
        403,
        "no_rectification_role",
    )
    problem(
        await call_back(client, rectification_id, staff("handler", dept="330303-public_security")),
        404,
        "rectification_not_found",
    )


async def test_an_overdue_call_back_is_escalated_once_to_the_supervisors_of_the_tier_above(
    app: FastAPI,
    client: httpx.AsyncClient,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    problem: Problem,
) -> None:
    rectification_id = bad_review["rectification_id"]
    sessionmaker = app.state.service.database.sessionmaker
    outbox = app.state.service.outbox
    on_time = dt.datetime(2026, 12, 8, 15, 59, 59, tzinfo=dt.UTC)
    assert await rectifications.escalate_overdue(sessionmaker, outbox, now=on_time) == 0
    late = on_time + dt.timedelta(seconds=1)
    # Two replicas' watches at once: one escalation.
    counts = await asyncio.gather(
        rectifications.escalate_overdue(sessionmaker, outbox, now=late),
        rectifications.escalate_overdue(sessionmaker, outbox, now=late),
    )
    assert sum(counts) == 1
    assert await rectifications.escalate_overdue(sessionmaker, outbox, now=late) == 0

    above = staff("supervisor", dept=CITY_BUREAU)
    seen = await read(client, rectification_id, above)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["escalated_to_department_id"] == CITY_BUREAU
    assert dt.datetime.fromisoformat(body["call_back_overdue_at"]) == late
    assert body["rectification_overdue_at"] is None
    assert body["history"][-1]["action"] == "call_back_overdue"
    assert body["history"][-1]["actor_role"] == "system"
    queue = await client.get("/ratings/v1/rectifications", headers=above)
    assert [item["id"] for item in queue.json()["items"]] == [rectification_id]
    # The tier above watches; the department still owes the call-back.
    problem(await call_back(client, rectification_id, above), 403, "not_your_rectification_step")
    handler_above = staff("handler", dept=CITY_BUREAU)
    problem(await read(client, rectification_id, handler_above), 404, "rectification_not_found")


async def test_an_overdue_rectification_is_escalated_and_a_late_one_still_closes(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    clock: Clock,
) -> None:
    rectification_id = bad_review["rectification_id"]
    await call_back(client, rectification_id, staff("handler"))
    sessionmaker = app.state.service.database.sessionmaker
    outbox = app.state.service.outbox
    late = dt.datetime(2026, 12, 29, 1, 0, tzinfo=dt.UTC)
    assert await rectifications.escalate_overdue(sessionmaker, outbox, now=late) == 1
    clock.now = late
    assert (await rectify(client, rectification_id, staff("handler"))).status_code == 200
    assert await rectifications.escalate_overdue(sessionmaker, outbox, now=late) == 0
    assert (await follow_up(client, token_minter, level=3)).status_code == 201
    body = (await read(client, rectification_id, staff("handler"))).json()
    assert body["status"] == "closed"
    assert [entry["action"] for entry in body["history"]] == [
        "opened",
        "call_back",
        "rectification_overdue",
        "rectify",
        "follow_up",
    ]


async def test_a_follow_up_not_given_in_time_closes_the_rectification_unrated(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Callable[..., dict[str, str]],
    clock: Clock,
    problem: Problem,
) -> None:
    rectification_id = bad_review["rectification_id"]
    await call_back(client, rectification_id, staff("handler"))
    await rectify(client, rectification_id, staff("handler"))
    window = app.state.service.settings.rating_window
    sessionmaker = app.state.service.database.sessionmaker
    outbox = app.state.service.outbox
    assert await rectifications.close_lapsed(sessionmaker, outbox, now=clock.now + window) == 0
    clock.now += window
    problem(await follow_up(client, token_minter), 409, "rating_window_closed")
    lapsed = clock.now + dt.timedelta(seconds=1)
    assert await rectifications.close_lapsed(sessionmaker, outbox, now=lapsed) == 1
    body = (await read(client, rectification_id, staff("handler"))).json()
    assert (body["status"], body["follow_up_rating_id"]) == ("closed", None)
    assert body["history"][-1]["action"] == "follow_up_lapsed"
    problem(await follow_up(client, token_minter), 409, "rating_window_closed")


@pytest.mark.parametrize(
    ("department_id", "escalated_to"),
    [
        ("330302-public_security", "330300-public_security"),
        ("330302026-civil_affairs", "330302-civil_affairs"),
        ("330300-housing_provident_fund", "330000-housing_provident_fund"),
        # A provincial department answers to the province's oversight of the system.
        ("330000-public_security", "330000-big_data_administration"),
        ("330000-big_data_administration", "330000-big_data_administration"),
    ],
)
def test_the_tier_above_is_the_same_department_type_in_the_parent_region(
    department_id: str, escalated_to: str
) -> None:
    assert rectifications.tier_above(department_id, "330302") == escalated_to
