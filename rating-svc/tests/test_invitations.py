"""Invitations to rate: made from case-svc's ``case.completed`` (its token only, once per
event), listed to the applicant while open, answered by her rating."""

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from rating_svc.models import InboxEvent, Invitation
from servicekit.events import CLOUDEVENTS_JSON
from servicekit.ids import new_id
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Clock = Any
CaseSvc = Callable[..., None]
ACase = Callable[..., dict[str, Any]]

LOSS_REPORT = "public_security.id_card_loss_report"
#: The hour before the test clock's morning (conftest's ``A_WORKING_MORNING``).
COMPLETED_AT = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


def completed(
    case_no: str,
    applicant_id: str = "citizen-1",
    *,
    at: dt.datetime = COMPLETED_AT,
    event_id: uuid.UUID | None = None,
    item_code: str = LOSS_REPORT,
    event_type: str = "case.completed",
) -> dict[str, Any]:
    """case-svc's ``case.completed`` as its relay posts it."""
    return {
        "specversion": "1.0",
        "id": str(event_id or new_id()),
        "source": "/cases",
        "type": event_type,
        "subject": str(uuid.uuid4()),
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "case_id": str(uuid.uuid4()),
            "case_no": case_no,
            "item_code": item_code,
            "department_id": "330302-public_security",
            "region_code": "330302",
            "applicant_id": applicant_id,
            "applicant_type": "citizen",
            "status": "completed",
        },
    }


@pytest.fixture
def case_svc_token(token_minter: TokenMinter) -> dict[str, str]:
    return {
        **bearer(token_minter.mint("case-svc", typ="service", loa=0, scope=("events:deliver",))),
        "content-type": CLOUDEVENTS_JSON,
    }


async def deliver(
    client: httpx.AsyncClient, event: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await client.post("/ratings/v1/events", json=event, headers=headers)


async def count(app: FastAPI, model: Any) -> int:
    async with app.state.service.database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def to_rate(
    client: httpx.AsyncClient, token_minter: TokenMinter, citizen: str = "citizen-1", **query: Any
) -> dict[str, Any]:
    response = await client.get(
        "/ratings/v1/invitations", params=query, headers=bearer(token_minter.mint(citizen))
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_a_completed_case_invites_its_applicant_to_rate_it_once_per_event(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc_token: dict[str, str],
    clock: Clock,
) -> None:
    event = completed("330302-20261207-000001")
    first = await deliver(client, event, case_svc_token)
    assert first.status_code == 204, first.text
    # The relay did not hear the answer and posts it again: answered alike, nothing new.
    again = await deliver(client, event, case_svc_token)
    assert again.status_code == 204, again.text
    assert await count(app, Invitation) == 1
    assert await count(app, InboxEvent) == 1
    page = await to_rate(client, token_minter)
    (invitation,) = page["items"]
    assert invitation["case_no"] == "330302-20261207-000001"
    assert invitation["kind"] == "case"
    assert dt.datetime.fromisoformat(invitation["invited_at"]) == COMPLETED_AT
    window = app.state.service.settings.rating_window
    assert dt.datetime.fromisoformat(invitation["expires_at"]) == COMPLETED_AT + window
    assert page["next_cursor"] is None
    assert (await to_rate(client, token_minter, "citizen-2"))["items"] == []


@pytest.mark.parametrize(
    ("sub", "typ", "code"),
    [
        ("identity-svc", "service", "not_the_case_service"),
        ("case-svc", "department_system", "wrong_principal_type"),
        ("citizen-1", "citizen", "wrong_principal_type"),
        ("case-svc", "staff", "wrong_principal_type"),
    ],
)
async def test_only_case_svcs_own_token_reports_completed_cases(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    sub: str,
    typ: Any,
    code: str,
) -> None:
    token = token_minter.mint(sub, typ=typ, scope=("events:deliver",))
    headers = {**bearer(token), "content-type": CLOUDEVENTS_JSON}
    response = await deliver(client, completed("330302-20261207-000001"), headers)
    problem(response, 403, code)
    assert await count(app, Invitation) == 0
    assert await count(app, InboxEvent) == 0


async def test_an_event_of_another_type_is_refused_so_that_it_is_dead_lettered_not_lost(
    app: FastAPI, client: httpx.AsyncClient, case_svc_token: dict[str, str], problem: Problem
) -> None:
    event = completed("330302-20261207-000001", event_type="case.submitted")
    response = await deliver(client, event, case_svc_token)
    body = problem(response, 422, "event_type_not_handled")
    assert body["event_type"] == "case.submitted"
    assert await count(app, InboxEvent) == 0


async def test_a_malformed_event_is_refused_with_the_field_named(
    client: httpx.AsyncClient, case_svc_token: dict[str, str], problem: Problem
) -> None:
    event = completed("330302-20261207-000001")
    event["data"]["applicant_type"] = "staff"
    body = problem(await deliver(client, event, case_svc_token), 422, "validation_failed")
    assert [error["field"] for error in body["errors"]] == ["body.data.applicant_type"]


async def test_a_rated_case_leaves_the_list_whether_its_event_came_first_or_last(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc_token: dict[str, str],
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(
        a_case("330302-20261207-000001", "citizen-1"), a_case("330302-20261207-000002", "citizen-1")
    )
    await deliver(client, completed("330302-20261207-000001"), case_svc_token)
    assert len((await to_rate(client, token_minter))["items"]) == 1
    for case_no in ("330302-20261207-000001", "330302-20261207-000002"):
        rated = await client.post(
            "/ratings/v1/ratings",
            json={"case_no": case_no, "level": 5},
            headers=bearer(token_minter.mint("citizen-1")),
        )
        assert rated.status_code == 201, rated.text
    # The second case's event arrives after its rating: it invites no one.
    late = await deliver(client, completed("330302-20261207-000002"), case_svc_token)
    assert late.status_code == 204, late.text
    assert (await to_rate(client, token_minter))["items"] == []


async def test_an_invitation_lapses_when_the_time_to_rate_ends(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc_token: dict[str, str],
    clock: Clock,
) -> None:
    await deliver(client, completed("330302-20261207-000001"), case_svc_token)
    clock.now = COMPLETED_AT + app.state.service.settings.rating_window
    assert (await to_rate(client, token_minter))["items"] == []


async def test_the_list_is_newest_first_page_by_page_and_a_foreign_cursor_is_refused(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc_token: dict[str, str],
    clock: Clock,
    problem: Problem,
) -> None:
    for number in range(1, 6):
        at = COMPLETED_AT - dt.timedelta(minutes=number)
        await deliver(client, completed(f"330302-20261207-00000{number}", at=at), case_svc_token)
    seen: list[str] = []
    page = await to_rate(client, token_minter, limit=2)
    while True:
        seen.extend(item["case_no"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        page = await to_rate(client, token_minter, limit=2, cursor=page["next_cursor"])
    assert seen == [f"330302-20261207-00000{number}" for number in range(1, 6)]
    first = await to_rate(client, token_minter, limit=2)
    theirs = await client.get(
        "/ratings/v1/invitations",
        params={"cursor": first["next_cursor"]},
        headers=bearer(token_minter.mint("citizen-2")),
    )
    problem(theirs, 400, "invalid_cursor")


async def test_a_delegate_sees_the_invitations_of_the_delegated_items_only(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc_token: dict[str, str],
    clock: Clock,
) -> None:
    await deliver(client, completed("330302-20261207-000001"), case_svc_token)
    await deliver(
        client,
        completed("330302-20261207-000002", item_code="civil_affairs.marriage"),
        case_svc_token,
    )
    response = await client.get(
        "/ratings/v1/invitations",
        headers=bearer(token_minter.mint("citizen-1", act="delegate-1", scope=(LOSS_REPORT,))),
    )
    assert [item["case_no"] for item in response.json()["items"]] == ["330302-20261207-000001"]


@pytest.mark.parametrize("typ", ["staff", "service"])
async def test_only_applicants_have_invitations(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem, typ: Any
) -> None:
    response = await client.get(
        "/ratings/v1/invitations", headers=bearer(token_minter.mint("someone", typ=typ))
    )
    problem(response, 403, "wrong_principal_type")
