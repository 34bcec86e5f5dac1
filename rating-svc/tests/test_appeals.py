"""Appeals (申诉): the handling department appeals a bad review of its case as mistaken or
malicious, once, in its time; the supervisors of the tier above decide. Upheld, the review
leaves the published figures (kept for audit) and its open rectification closes as appealed;
rejected, it stands. Both sides see the outcome."""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from rating_svc.models import OutboxEvent
from servicekit.settings import ServiceSettings
from servicekit.testing import ServiceUnderTest, TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Clock = Any
CaseSvc = Callable[..., None]
ACase = Callable[..., dict[str, Any]]
Staff = Callable[..., dict[str, str]]

CASE_NO = "330302-20261207-000001"
BUREAU = "330302-public_security"
CITY_BUREAU = "330300-public_security"
REASONS = "申请人评价的是另一部门的事项，本局当日已办结，联系电话13957700000"
EVIDENCE = ["窗口录像 2026-12-07 10:02 第3号窗口", "受理回执编号 330302-0001"]
AN_APPEAL = {"grounds": "mistaken", "reasons": REASONS, "evidence": EVIDENCE}


@pytest.fixture
def settings(
    service_under_test: ServiceUnderTest, database_url: str, tmp_path: Path
) -> ServiceSettings:
    """The tier above subscribes to appeals; no client secret: the events wait in the
    outbox."""
    base = service_under_test.settings_for(database_url, tmp_path)
    subscribers = {"appeal.filed": ["/notices/v1/events"], "appeal.decided": ["/notices/v1/events"]}
    return base.model_copy(update={"event_subscribers": subscribers})


@pytest.fixture
def staff(token_minter: TokenMinter) -> Staff:
    def token(*roles: str, dept: str = BUREAU) -> dict[str, str]:
        who = f"{dept}-{'-'.join(roles) or 'nobody'}"
        return bearer(token_minter.mint(who, typ="staff", loa=2, roles=roles, dept=dept))

    return token


async def rate(
    client: httpx.AsyncClient, token_minter: TokenMinter, level: int, case_no: str = CASE_NO
) -> dict[str, Any]:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": case_no, "level": level},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert response.status_code == 201, response.text
    rating: dict[str, Any] = response.json()
    return rating


@pytest.fixture
async def bad_review(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> dict[str, Any]:
    """citizen-1's very dissatisfied review of her loss report, given on Monday morning."""
    case_svc(a_case(CASE_NO, "citizen-1"), a_case("330302-20261207-000002", "citizen-1"))
    return await rate(client, token_minter, 1)


async def appeal(
    client: httpx.AsyncClient, rating_id: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(
        f"/ratings/v1/ratings/{rating_id}/appeal", json={**AN_APPEAL, **body}, headers=headers
    )


async def decide(
    client: httpx.AsyncClient, appeal_id: str, headers: dict[str, str], outcome: str
) -> httpx.Response:
    return await client.post(
        f"/ratings/v1/appeals/{appeal_id}/decision",
        json={"outcome": outcome, "note": "录像显示当日已办结"},
        headers=headers,
    )


async def citizens_view(
    client: httpx.AsyncClient, token_minter: TokenMinter, rating_id: str
) -> dict[str, Any]:
    response = await client.get(
        f"/ratings/v1/ratings/{rating_id}", headers=bearer(token_minter.mint("citizen-1"))
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.service.database.sessionmaker() as session:
        rows = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
        return [json.loads(row.envelope) for row in rows]


async def test_an_upheld_appeal_takes_the_review_out_of_the_figures_and_closes_its_rectification(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Staff,
) -> None:
    filed = await appeal(client, bad_review["id"], staff("handler"))
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert filed.headers["location"] == f"/ratings/v1/appeals/{body['id']}"
    assert (body["status"], body["department_id"], body["decider_department_id"]) == (
        "pending",
        BUREAU,
        CITY_BUREAU,
    )
    assert body["evidence"] == EVIDENCE
    mine = await citizens_view(client, token_minter, bad_review["id"])
    assert mine["appeal"] == {
        "status": "pending",
        "decided_at": None,
        "excluded_from_figures": False,
    }

    # The city bureau's supervisors find it in their list, and decide.
    listed = await client.get(
        "/ratings/v1/appeals?status=pending", headers=staff("supervisor", dept=CITY_BUREAU)
    )
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    decided = await decide(client, body["id"], staff("supervisor", dept=CITY_BUREAU), "upheld")
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "upheld"

    # The department sees the outcome on its appeal, the citizen on her rating.
    seen = await client.get(f"/ratings/v1/appeals/{body['id']}", headers=staff("handler"))
    assert (seen.json()["status"], seen.json()["decided_by"]) == (
        "upheld",
        f"{CITY_BUREAU}-supervisor",
    )
    mine = await citizens_view(client, token_minter, bad_review["id"])
    assert mine["appeal"]["status"] == "upheld"
    assert mine["appeal"]["excluded_from_figures"] is True
    rectification = await client.get(
        f"/ratings/v1/rectifications/{bad_review['rectification_id']}", headers=staff("handler")
    )
    assert rectification.json()["status"] == "appealed"
    assert rectification.json()["history"][-1]["action"] == "appeal_upheld"
    # The review is kept, for audit, marked out of the figures.
    async with app.state.service.database.sessionmaker() as session:
        excluded = await session.scalar(text("SELECT excluded_at FROM rating"))
        reasons, evidence = (
            await session.execute(text("SELECT reasons, evidence FROM appeal"))
        ).one()
    assert excluded is not None
    # The department's words are sealed at rest.
    assert "13957700000" not in str(reasons)
    assert "第3号窗口" not in str(evidence)

    told = [
        (event["type"], event["data"]["status"])
        for event in await events(app)
        if event["type"].startswith("appeal.")
    ]
    assert told == [("appeal.filed", "pending"), ("appeal.decided", "upheld")]
    decided_event = next(e for e in await events(app) if e["type"] == "appeal.decided")
    assert decided_event["data"]["rectification_status"] == "appealed"
    assert REASONS not in json.dumps(decided_event, ensure_ascii=False)


async def test_a_rejected_appeal_leaves_the_review_standing(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Staff,
) -> None:
    filed = await appeal(client, bad_review["id"], staff("supervisor"), grounds="malicious")
    assert filed.status_code == 201, filed.text
    decided = await decide(
        client, filed.json()["id"], staff("supervisor", dept=CITY_BUREAU), "rejected"
    )
    assert decided.json()["status"] == "rejected"
    mine = await citizens_view(client, token_minter, bad_review["id"])
    assert mine["appeal"]["status"] == "rejected"
    assert mine["appeal"]["excluded_from_figures"] is False
    rectification = await client.get(
        f"/ratings/v1/rectifications/{bad_review['rectification_id']}", headers=staff("handler")
    )
    assert rectification.json()["status"] == "awaiting_call_back"


async def test_each_refusal_to_file_is_a_problem_with_its_code(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Staff,
    clock: Clock,
    problem: Problem,
) -> None:
    rating_id = bad_review["id"]
    problem(await appeal(client, rating_id, staff()), 403, "no_appeal_role")
    problem(
        await appeal(client, rating_id, staff("handler", dept="330303-public_security")),
        404,
        "review_not_found",
    )
    good = await rate(client, token_minter, 5, case_no="330302-20261207-000002")
    problem(await appeal(client, good["id"], staff("handler")), 409, "review_not_appealable")
    # Five working days from Monday's review: until the next Monday night.
    clock.now += dt.timedelta(days=8)
    closed = problem(await appeal(client, rating_id, staff("handler")), 409, "appeal_window_closed")
    assert closed["closed_at"].startswith("2026-12-14T15:59:59")
    clock.now -= dt.timedelta(days=2)
    assert (await appeal(client, rating_id, staff("handler"))).status_code == 201
    problem(await appeal(client, rating_id, staff("supervisor")), 409, "already_appealed")
    bad = await appeal(client, rating_id, staff("handler"), evidence=[])
    assert bad.status_code == 422


async def test_only_a_supervisor_of_the_tier_above_decides_and_only_once(
    client: httpx.AsyncClient, bad_review: dict[str, Any], staff: Staff, problem: Problem
) -> None:
    filed = await appeal(client, bad_review["id"], staff("handler"))
    appeal_id = filed.json()["id"]
    for own in (staff("handler"), staff("supervisor")):
        refused = problem(
            await decide(client, appeal_id, own, "upheld"), 403, "appeal_decided_by_tier_above"
        )
        assert refused["decider_department_id"] == CITY_BUREAU
    problem(
        await decide(client, appeal_id, staff("handler", dept=CITY_BUREAU), "upheld"),
        404,
        "appeal_not_found",
    )
    problem(
        await decide(client, appeal_id, staff("supervisor", dept="330300-civil_affairs"), "upheld"),
        404,
        "appeal_not_found",
    )
    city = staff("supervisor", dept=CITY_BUREAU)
    assert (await decide(client, appeal_id, city, "rejected")).status_code == 200
    again = problem(await decide(client, appeal_id, city, "upheld"), 409, "appeal_already_decided")
    assert again["appeal_status"] == "rejected"


async def test_the_appeals_list_comes_a_page_at_a_time(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    bad_review: dict[str, Any],
    staff: Staff,
    problem: Any,
) -> None:
    other = await rate(client, token_minter, 2, case_no="330302-20261207-000002")
    filed = [
        (await appeal(client, review["id"], staff("handler"))).json()["id"]
        for review in (bad_review, other)
    ]
    city = staff("supervisor", dept=CITY_BUREAU)

    first = await client.get("/ratings/v1/appeals", params={"limit": 1}, headers=city)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    second = await client.get(
        "/ratings/v1/appeals", params={"limit": 1, "cursor": cursor}, headers=city
    )
    assert [page.json()["items"][0]["id"] for page in (first, second)] == filed
    assert second.json()["next_cursor"] is None
    # A cursor is the caller's own list's: another list's (the bureau's own) refuses it.
    foreign = await client.get(
        "/ratings/v1/appeals", params={"cursor": cursor}, headers=staff("handler")
    )
    problem(foreign, 400, "invalid_cursor")


async def test_a_decision_names_the_level_of_the_review_it_concerns(
    app: FastAPI, client: httpx.AsyncClient, bad_review: dict[str, Any], staff: Staff
) -> None:
    filed = (await appeal(client, bad_review["id"], staff("handler"))).json()
    await decide(client, filed["id"], staff("supervisor", dept=CITY_BUREAU), "upheld")

    [decided] = [event for event in await events(app) if event["type"] == "appeal.decided"]
    assert {key: decided["data"][key] for key in ("status", "level", "bad_review")} == {
        "status": "upheld",
        "level": 1,
        "bad_review": True,
    }
