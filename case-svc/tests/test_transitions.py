"""Moving a case through its workflow over HTTP: the caller names the version they saw
(If-Match), the transition table decides what may happen, the database decides races."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

SONGTAI_COMMUNITY = "330302026003"


@pytest.fixture
def clerk(token_minter: Any) -> str:
    token: str = token_minter.mint(
        "clerk-1", typ="staff", loa=2, dept="330300-housing_provident_fund"
    )
    return token


@pytest.fixture
async def case_no(submit: Submit, resident: str, catalog: Any) -> str:
    """A housing-fund withdrawal under review, at version 1."""
    number: str = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    return number


Move = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def move(client: httpx.AsyncClient, case_no: str) -> Move:
    async def post(
        token: str, action: str, if_match: str | None, note: str | None = None
    ) -> httpx.Response:
        headers = bearer(token)
        if if_match is not None:
            headers["If-Match"] = if_match
        return await client.post(
            f"/cases/v1/cases/{case_no}/transitions",
            json={"action": action, **({"note": note} if note else {})},
            headers=headers,
        )

    return post


async def test_the_department_accepts_then_approves_and_each_step_is_a_new_version(
    move: Move, clerk: str, clock: Any
) -> None:
    accepted = await move(clerk, "accept", '"1"')
    approved = await move(clerk, "approve", accepted.headers["etag"], note="材料齐全")

    assert accepted.status_code == approved.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.headers["etag"] == '"2"'
    case = approved.json()
    assert case["status"] == "completed"
    assert case["version"] == 3
    assert approved.headers["etag"] == '"3"'
    assert case["completed_at"] == "2026-11-26T02:00:00Z"
    assert [(h["status"], h["actor"], h["actor_role"], h["note"]) for h in case["history"]] == [
        ("submitted", "citizen-lin", "applicant", None),
        ("accepted", "clerk-1", "department", None),
        ("completed", "clerk-1", "department", "材料齐全"),
    ]
    assert case["available_actions"] == []


async def test_the_applicant_withdraws_a_case_under_review(move: Move, resident: str) -> None:
    response = await move(resident, "withdraw", '"1"')

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["completed_at"] is None


async def test_a_weak_etag_never_matches(move: Move, clerk: str, problem: Problem) -> None:
    problem(await move(clerk, "accept", 'W/"1"'), 412, "precondition_failed")


@pytest.mark.parametrize(
    ("if_match", "status", "code"),
    [
        (None, 428, "precondition_required"),
        ("*", 428, "precondition_required"),
        ('"2"', 412, "precondition_failed"),
        ('W/"zero"', 412, "precondition_failed"),
    ],
)
async def test_a_transition_must_name_the_current_version(
    move: Move, clerk: str, problem: Problem, if_match: str | None, status: int, code: str
) -> None:
    problem(await move(clerk, "accept", if_match), status, code)


async def test_a_stale_version_is_refused_and_changes_nothing(
    move: Move, clerk: str, resident: str, client: httpx.AsyncClient, case_no: str, problem: Problem
) -> None:
    await move(clerk, "accept", '"1"')

    body = problem(await move(resident, "withdraw", '"1"'), 412, "precondition_failed")

    assert body["current_etag"] == '"2"'
    current = await client.get(f"/cases/v1/cases/{case_no}", headers=bearer(resident))
    assert current.json()["status"] == "accepted"


@pytest.mark.parametrize(
    ("who", "action", "status", "code"),
    [
        ("clerk", "approve", 409, "transition_not_allowed"),  # not accepted yet
        ("clerk", "withdraw", 403, "not_your_transition"),
        ("resident", "accept", 403, "not_your_transition"),
        ("resident", "approve", 403, "not_your_transition"),
        ("resident", "reject", 403, "not_your_transition"),
    ],
)
async def test_a_transition_outside_the_table_is_refused(
    move: Move,
    clerk: str,
    resident: str,
    problem: Problem,
    who: str,
    action: str,
    status: int,
    code: str,
) -> None:
    token = {"clerk": clerk, "resident": resident}[who]
    problem(await move(token, action, '"1"'), status, code)


async def test_nothing_moves_a_completed_case(move: Move, clerk: str, problem: Problem) -> None:
    await move(clerk, "accept", '"1"')
    await move(clerk, "approve", '"2"')

    body = problem(await move(clerk, "reject", '"3"'), 409, "transition_not_allowed")

    assert body["case_status"] == "completed"
    assert body["allowed_from"] == ["accepted", "submitted"]


async def test_staff_of_another_department_cannot_see_the_case_to_move_it(
    move: Move, token_minter: Any, problem: Problem
) -> None:
    other = token_minter.mint("clerk-9", typ="staff", loa=2, dept="330302-public_security")
    problem(await move(other, "accept", '"1"'), 404, "case_not_found")


@pytest.mark.parametrize("if_match", [None, '"1"'])
async def test_a_case_that_does_not_exist_is_not_found_whatever_if_match_says(
    client: httpx.AsyncClient, clerk: str, problem: Problem, if_match: str | None
) -> None:
    headers = {**bearer(clerk), **({"If-Match": if_match} if if_match else {})}
    response = await client.post(
        "/cases/v1/cases/0/transitions", json={"action": "accept"}, headers=headers
    )
    problem(response, 404, "case_not_found")


async def test_a_stranger_without_if_match_learns_nothing_either(
    move: Move, token_minter: Any, problem: Problem
) -> None:
    other = token_minter.mint("clerk-9", typ="staff", loa=2, dept="330302-public_security")
    problem(await move(other, "accept", None), 404, "case_not_found")


async def test_an_unknown_action_is_a_validation_error(
    move: Move, clerk: str, problem: Problem
) -> None:
    problem(await move(clerk, "escalate", '"1"'), 422, "validation_failed")


async def test_of_two_racing_transitions_at_one_version_exactly_one_wins(
    move: Move, clerk: str, resident: str, client: httpx.AsyncClient, case_no: str
) -> None:
    accept, withdraw = await asyncio.gather(
        move(clerk, "accept", '"1"'), move(resident, "withdraw", '"1"')
    )

    assert sorted([accept.status_code, withdraw.status_code]) == [200, 412]
    case = (await client.get(f"/cases/v1/cases/{case_no}", headers=bearer(resident))).json()
    assert case["version"] == 2
    assert len(case["history"]) == 2
