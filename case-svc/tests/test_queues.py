"""A department's work queue: its open cases narrowed by status, item, holder and deadline
colour, the most urgent first, counted as the filters count them. A supervisor sees who is
late; a handler sees what is theirs and what no one holds."""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

FUND_CENTRE = "330300-housing_provident_fund"


@pytest.fixture
def handler(token_minter: Any) -> str:
    token: str = token_minter.mint(
        "handler-1", typ="staff", loa=2, dept=FUND_CENTRE, roles=("handler",)
    )
    return token


@pytest.fixture
def supervisor(token_minter: Any) -> str:
    token: str = token_minter.mint(
        "supervisor-1", typ="staff", loa=2, dept=FUND_CENTRE, roles=("supervisor",)
    )
    return token


async def file_three_days_apart(
    submit: Submit, resident: str, catalog: Any, clock: Any
) -> list[str]:
    """Three withdrawals (promised in 3 working days), filed a day apart from Monday 23
    November; then Thursday 26 November, 10:00 in Wenzhou."""
    numbers = []
    for day in (23, 24, 25):
        clock.now = dt.datetime(2026, 11, day, 2, 0, tzinfo=dt.UTC)
        numbers.append((await submit(resident, catalog.fund_withdrawal)).json()["case_no"])
    clock.now = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
    return numbers


async def queue(client: httpx.AsyncClient, token: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/cases/v1/cases", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_queue_shows_the_most_urgent_first_with_its_colour(
    submit: Submit,
    resident: str,
    catalog: Any,
    clock: Any,
    client: httpx.AsyncClient,
    handler: str,
) -> None:
    monday, tuesday, wednesday = await file_three_days_apart(submit, resident, catalog, clock)

    items = await queue(client, handler, order="due")

    # Monday's was due at the close of Thursday: in its last fifth now, yellow; the others green.
    assert [(case["case_no"], case["deadline_colour"]) for case in items] == [
        (monday, "yellow"),
        (tuesday, "green"),
        (wednesday, "green"),
    ]
    clock.now = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)  # Friday
    assert [case["deadline_colour"] for case in await queue(client, handler, order="due")] == [
        "red",
        "yellow",
        "green",
    ]
    red = await queue(client, handler, deadline_colour="red")
    assert [case["case_no"] for case in red] == [monday]


async def test_the_queue_pages_by_due_time_with_a_cursor_for_that_order(
    submit: Submit,
    resident: str,
    catalog: Any,
    clock: Any,
    client: httpx.AsyncClient,
    handler: str,
    problem: Problem,
) -> None:
    numbers = await file_three_days_apart(submit, resident, catalog, clock)
    instant = (await submit(resident, catalog.loss_report)).json()  # another department's

    first = await client.get(
        "/cases/v1/cases", params={"order": "due", "limit": 2}, headers=bearer(handler)
    )
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/cases/v1/cases",
        params={"order": "due", "limit": 2, "cursor": cursor},
        headers=bearer(handler),
    )

    assert [case["case_no"] for case in first.json()["items"] + second.json()["items"]] == numbers
    assert second.json()["next_cursor"] is None
    assert instant["case_no"] not in numbers
    # A cursor of one order is no position in the other.
    problem(
        await client.get("/cases/v1/cases", params={"cursor": cursor}, headers=bearer(handler)),
        400,
        "invalid_cursor",
    )


async def test_mine_and_unassigned_follow_the_claims_and_their_lapse(
    submit: Submit,
    resident: str,
    catalog: Any,
    clock: Any,
    client: httpx.AsyncClient,
    handler: str,
    supervisor: str,
) -> None:
    monday, tuesday, _ = await file_three_days_apart(submit, resident, catalog, clock)
    claimed = await client.post(
        f"/cases/v1/cases/{monday}/claim", headers={**bearer(handler), "If-Match": '"1"'}
    )
    assert claimed.status_code == 200

    assert [case["case_no"] for case in await queue(client, handler, assignee="me")] == [monday]
    assert monday not in [
        case["case_no"] for case in await queue(client, handler, assignee="unassigned")
    ]
    counts = (await client.get("/cases/v1/queue", headers=bearer(handler))).json()
    assert counts == {
        "open": 3,
        "by_status": {"submitted": 3},
        "by_deadline_colour": {"green": 2, "yellow": 1, "red": 0},
        "mine": 1,
        "unassigned": 2,
    }

    clock.now += dt.timedelta(hours=5)  # the claim lapses
    assert await queue(client, handler, assignee="me") == []
    lapsed = (await client.get("/cases/v1/queue", headers=bearer(supervisor))).json()
    assert (lapsed["mine"], lapsed["unassigned"]) == (0, 3)
    assert tuesday in [
        case["case_no"]
        for case in await queue(client, supervisor, item_code=catalog.fund_withdrawal)
    ]
    assert await queue(client, supervisor, item_code=catalog.loss_report) == []


async def test_a_paused_clock_keeps_its_colour_until_it_runs_again(
    submit: Submit,
    resident: str,
    catalog: Any,
    clock: Any,
    client: httpx.AsyncClient,
    handler: str,
) -> None:
    monday, _, _ = await file_three_days_apart(submit, resident, catalog, clock)
    etag = '"1"'
    for path, body in (
        (f"/cases/v1/cases/{monday}/claim", None),
        (
            f"/cases/v1/cases/{monday}/transitions",
            {"action": "request_supplement", "notice": {"fields": ["amount"]}},
        ),
    ):
        moved = await client.post(path, json=body, headers={**bearer(handler), "If-Match": etag})
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]

    clock.now = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)  # long past its promised time

    [case] = [c for c in await queue(client, handler) if c["case_no"] == monday]
    assert case["deadline_colour"] == "yellow"
    read = await client.get(f"/cases/v1/cases/{monday}", headers=bearer(handler))
    assert read.json()["deadline_colour"] == "yellow"


@pytest.mark.parametrize(
    ("claims", "status", "code"),
    [
        ({"typ": "citizen"}, 403, "wrong_principal_type"),
        (
            {"typ": "staff", "dept": FUND_CENTRE, "roles": ("department_admin",)},
            403,
            "no_case_role",
        ),
        ({"typ": "staff", "roles": ("handler",)}, 403, "no_department"),
    ],
)
async def test_only_a_departments_case_roles_count_its_queue(
    client: httpx.AsyncClient,
    token_minter: Any,
    problem: Problem,
    claims: dict[str, Any],
    status: int,
    code: str,
) -> None:
    token = token_minter.mint("someone", loa=2, **claims)
    problem(await client.get("/cases/v1/queue", headers=bearer(token)), status, code)


async def test_a_department_system_counts_its_queue(
    client: httpx.AsyncClient, token_minter: Any, submit: Submit, resident: str, catalog: Any
) -> None:
    await submit(resident, catalog.fund_withdrawal)
    system = token_minter.mint(
        "ds-1", typ="department_system", loa=0, dept=FUND_CENTRE, scope=("cases:read",)
    )

    counts = (await client.get("/cases/v1/queue", headers=bearer(system))).json()

    assert (counts["open"], counts["mine"], counts["unassigned"]) == (1, 0, 1)


@pytest.mark.parametrize("path", ["/cases/v1/queue", "/cases/v1/cases"])
async def test_a_department_system_whose_client_may_not_read_cases_is_refused(
    client: httpx.AsyncClient, token_minter: Any, problem: Any, path: str
) -> None:
    system = token_minter.mint(
        "ds-1", typ="department_system", loa=0, dept=FUND_CENTRE, scope=("catalog:read",)
    )

    refused = problem(await client.get(path, headers=bearer(system)), 403, "insufficient_scope")

    assert refused["required_scopes"] == ["cases:read"]


async def test_the_most_urgent_first_are_open_cases_however_long_ago_an_ended_one_was_due(
    submit: Submit,
    resident: str,
    catalog: Any,
    clock: Any,
    client: httpx.AsyncClient,
    handler: str,
) -> None:
    monday, tuesday, _ = await file_three_days_apart(submit, resident, catalog, clock)
    withdrawn = await client.post(
        f"/cases/v1/cases/{monday}/transitions",
        json={"action": "withdraw"},
        headers={**bearer(resident), "If-Match": '"1"'},
    )
    assert withdrawn.status_code == 200

    urgent = await queue(client, handler, order="due")
    newest = await queue(client, handler)

    assert monday not in [case["case_no"] for case in urgent]
    assert urgent[0]["case_no"] == tuesday
    assert monday in [case["case_no"] for case in newest]
