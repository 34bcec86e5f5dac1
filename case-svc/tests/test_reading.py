"""Who sees which case: the applicant (or the delegate acting for them) and the handling
department; to anyone else a case is as absent as one that does not exist."""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

SONGTAI_COMMUNITY = "330302026003"
LUCHENG_POLICE = "330302-public_security"
WENZHOU_HOUSING_FUND = "330300-housing_provident_fund"


async def test_the_applicant_reads_the_case_with_its_history_and_etag(
    submit: Submit, client: httpx.AsyncClient, resident: str, catalog: Any
) -> None:
    filed = (await submit(resident, catalog.fund_withdrawal)).json()

    response = await client.get(f"/cases/v1/cases/{filed['case_no']}", headers=bearer(resident))

    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    case = response.json()
    assert case == filed
    assert {
        "case_no", "status", "item_code", "item_name", "applicant_id", "actor_id",
        "department_id", "department_name", "region_code", "applicant_region", "form",
        "submitted_at", "completed_at", "due_at", "version", "history",
    } <= case.keys()  # fmt: skip
    assert case["item_name"] == "住房公积金提取"
    assert case["form"] == catalog.valid_form(catalog.fund_withdrawal)
    assert case["history"] == [
        {
            "status": "submitted",
            "action": "submit",
            "at": "2026-11-26T02:00:00Z",
            "actor": "citizen-lin",
            "actor_role": "applicant",
            "staff_no": None,
            "acting_for": None,
            "clock": "running",
            "note": None,
            "detail": None,
        }
    ]


async def test_staff_of_the_handling_department_read_it_and_may_act_on_it(
    submit: Submit, client: httpx.AsyncClient, resident: str, catalog: Any, token_minter: Any
) -> None:
    filed = (await submit(resident, catalog.fund_withdrawal)).json()
    clerk = token_minter.mint(
        "clerk-1", typ="staff", loa=2, dept=WENZHOU_HOUSING_FUND, roles=("handler",)
    )

    response = await client.get(f"/cases/v1/cases/{filed['case_no']}", headers=bearer(clerk))

    assert response.status_code == 200
    # Hers to take: she claims it first, then accepts, refuses or asks for a supplement.
    assert response.json()["available_actions"] == []
    assert response.json()["assignee_id"] is None


async def test_a_delegate_acting_for_the_applicant_reads_the_principals_case(
    submit: Submit, client: httpx.AsyncClient, resident: str, catalog: Any, token_minter: Any
) -> None:
    filed = (await submit(resident, catalog.loss_report)).json()
    acting = token_minter.mint("citizen-lin", act="citizen-son", loa=2)

    response = await client.get(f"/cases/v1/cases/{filed['case_no']}", headers=bearer(acting))

    assert response.status_code == 200


async def test_a_delegate_reads_only_the_cases_of_the_items_delegated(
    submit: Submit,
    client: httpx.AsyncClient,
    resident: str,
    catalog: Any,
    token_minter: Any,
    problem: Problem,
) -> None:
    covered = (await submit(resident, catalog.loss_report)).json()
    outside = (await submit(resident, catalog.fund_withdrawal)).json()
    acting = bearer(
        token_minter.mint("citizen-lin", act="citizen-son", loa=2, scope=(catalog.loss_report,))
    )

    assert (
        await client.get(f"/cases/v1/cases/{covered['case_no']}", headers=acting)
    ).status_code == 200
    problem(
        await client.get(f"/cases/v1/cases/{outside['case_no']}", headers=acting),
        404,
        "case_not_found",
    )
    listed = (await client.get("/cases/v1/cases", headers=acting)).json()["items"]
    assert {case["item_code"] for case in listed} == {catalog.loss_report}


@pytest.mark.parametrize(
    "stranger",
    [
        {"sub": "citizen-chen", "typ": "citizen"},
        {"sub": "citizen-son", "typ": "citizen"},  # the delegate on their own account
        {"sub": "citizen-lin", "typ": "enterprise"},  # same id, another kind of account
        {"sub": "clerk-9", "typ": "staff", "dept": "330303-public_security"},
        {"sub": "clerk-8", "typ": "staff"},
        {"sub": "identity-svc", "typ": "service", "scope": ("cases:read",)},
    ],
    ids=["citizen", "delegate-alone", "enterprise", "other-department", "no-department", "svc"],
)
async def test_anyone_else_is_told_the_case_does_not_exist(
    submit: Submit,
    client: httpx.AsyncClient,
    resident: str,
    catalog: Any,
    token_minter: Any,
    problem: Problem,
    stranger: dict[str, Any],
) -> None:
    filed = (await submit(resident, catalog.loss_report)).json()
    token = token_minter.mint(loa=3, **stranger)

    theirs = await client.get(f"/cases/v1/cases/{filed['case_no']}", headers=bearer(token))
    missing = await client.get("/cases/v1/cases/330302-20261126-999999", headers=bearer(token))

    assert (
        problem(theirs, 404, "case_not_found").keys()
        == problem(missing, 404, "case_not_found").keys()
    )


async def test_reading_a_case_needs_a_token(
    client: httpx.AsyncClient, problem: Problem, catalog: Any
) -> None:
    problem(await client.get("/cases/v1/cases/330302-20261126-000001"), 401, "unauthenticated")


# --- lists --------------------------------------------------------------------------------------


async def test_a_citizen_lists_only_their_own_cases_newest_first(
    submit: Submit,
    client: httpx.AsyncClient,
    resident: str,
    catalog: Any,
    token_minter: Any,
    clock: Any,
) -> None:
    neighbour = token_minter.mint("citizen-chen", loa=3, region=SONGTAI_COMMUNITY)
    mine = []
    for hours in range(3):
        clock.now += dt.timedelta(hours=hours)
        mine.append((await submit(resident, catalog.loss_report)).json()["case_no"])
        await submit(
            neighbour, catalog.loss_report, catalog.form_without_applicant(catalog.loss_report)
        )

    response = await client.get("/cases/v1/cases", headers=bearer(resident))

    assert response.status_code == 200
    page = response.json()
    assert [case["case_no"] for case in page["items"]] == list(reversed(mine))
    assert page["next_cursor"] is None
    assert "history" not in page["items"][0]
    assert "form" not in page["items"][0]


async def test_pages_follow_the_cursor_to_the_end_without_gaps_or_repeats(
    submit: Submit, client: httpx.AsyncClient, resident: str, catalog: Any, clock: Any
) -> None:
    filed = []
    for _ in range(5):  # the same instant for all: the id breaks the tie
        filed.append((await submit(resident, catalog.loss_report)).json()["case_no"])

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/cases/v1/cases", params=params, headers=bearer(resident))).json()
        seen += [case["case_no"] for case in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == list(reversed(filed))


async def test_a_cursor_holds_only_for_the_list_it_was_given_for(
    submit: Submit,
    client: httpx.AsyncClient,
    resident: str,
    catalog: Any,
    token_minter: Any,
    problem: Problem,
) -> None:
    for _ in range(2):
        await submit(resident, catalog.loss_report)
    first = await client.get("/cases/v1/cases", params={"limit": 1}, headers=bearer(resident))
    cursor = first.json()["next_cursor"]
    neighbour = token_minter.mint("neighbour-1", typ="citizen", loa=3, region="330302026003")
    position, _, tag = cursor.partition(".")

    for token, sent in [(neighbour, cursor), (resident, f"{position}x.{tag}")]:
        response = await client.get(
            "/cases/v1/cases", params={"cursor": sent}, headers=bearer(token)
        )
        problem(response, 400, "invalid_cursor")


async def test_a_limit_above_the_maximum_is_served_as_the_maximum(
    submit: Submit, client: httpx.AsyncClient, resident: str, catalog: Any
) -> None:
    await submit(resident, catalog.loss_report)

    response = await client.get(
        "/cases/v1/cases", params={"limit": 10**30}, headers=bearer(resident)
    )

    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


async def test_staff_see_their_departments_queue_filtered_by_status(
    submit: Submit,
    client: httpx.AsyncClient,
    resident: str,
    catalog: Any,
    token_minter: Any,
) -> None:
    instant = (await submit(resident, catalog.loss_report)).json()
    first_review = (await submit(resident, catalog.fund_withdrawal)).json()
    await submit(resident, catalog.fund_withdrawal)
    fund_clerk = token_minter.mint(
        "clerk-1", typ="staff", loa=2, dept=WENZHOU_HOUSING_FUND, roles=("handler",)
    )
    police_clerk = token_minter.mint(
        "clerk-2", typ="staff", loa=2, dept=LUCHENG_POLICE, roles=("supervisor",)
    )
    claimed = await client.post(
        f"/cases/v1/cases/{first_review['case_no']}/claim",
        headers={**bearer(fund_clerk), "If-Match": '"1"'},
    )
    accepted = await client.post(
        f"/cases/v1/cases/{first_review['case_no']}/transitions",
        json={"action": "accept"},
        headers={**bearer(fund_clerk), "If-Match": claimed.headers["etag"]},
    )
    assert accepted.status_code == 200

    fund_queue = await client.get("/cases/v1/cases", headers=bearer(fund_clerk))
    fund_submitted = await client.get(
        "/cases/v1/cases", params={"status": "submitted"}, headers=bearer(fund_clerk)
    )
    police_queue = await client.get("/cases/v1/cases", headers=bearer(police_clerk))

    assert [c["status"] for c in fund_queue.json()["items"]] == ["submitted", "accepted"]
    assert [c["status"] for c in fund_submitted.json()["items"]] == ["submitted"]
    assert [c["case_no"] for c in police_queue.json()["items"]] == [instant["case_no"]]


@pytest.mark.parametrize(
    ("claims", "params", "status", "code"),
    [
        ({"typ": "staff"}, {}, 403, "no_department"),
        ({"typ": "service", "scope": ("cases:read",)}, {}, 403, "wrong_principal_type"),
        ({"typ": "citizen"}, {"cursor": "not-a-cursor"}, 400, "invalid_cursor"),
        ({"typ": "citizen"}, {"status": "lost"}, 422, "validation_failed"),
        ({"typ": "citizen"}, {"limit": 0}, 422, "validation_failed"),
        ({"typ": "citizen"}, {"cursor": "9223372036854775808"}, 400, "invalid_cursor"),
    ],
)
async def test_a_list_request_that_cannot_be_answered_is_refused(
    client: httpx.AsyncClient,
    token_minter: Any,
    problem: Problem,
    claims: dict[str, Any],
    params: dict[str, Any],
    status: int,
    code: str,
) -> None:
    token = token_minter.mint("someone", **claims)

    response = await client.get("/cases/v1/cases", params=params, headers=bearer(token))

    problem(response, status, code)
