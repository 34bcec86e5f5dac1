"""The citizen's inbox: case-svc's case events (its client alone, each once) become messages
in the applicant's inbox; what waits on her texts her phone; she reads them, newest first, and
marks them read; nobody else reads them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from identity_svc.seed import seed
from identity_svc.settings import IdentitySettings
from servicekit.events import CLOUDEVENTS_JSON
from servicekit.ids import new_id

if TYPE_CHECKING:
    from conftest import Journey, People, SmsOutbox

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

CASE_SVC = "case-svc"
SECRET = "c" * 40


@pytest.fixture
async def case_svc(
    app: FastAPI, identity_settings: IdentitySettings, client: httpx.AsyncClient
) -> dict[str, str]:
    """case-svc's client, as the seed registers it, and its token's headers for events."""
    configured = identity_settings.model_copy(
        update={
            "seed_client_id": CASE_SVC,
            "seed_client_secret": SecretStr(SECRET),
            "seed_client_name": "case-svc（平台服务）",
            "seed_client_type": "service",
            "seed_client_scopes": "events:deliver",
        }
    )
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, configured)
    token = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials", "client_id": CASE_SVC, "client_secret": SECRET},
    )
    assert token.status_code == 200, token.text
    return {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "content-type": CLOUDEVENTS_JSON,
    }


def case_event(
    event_type: str, applicant_id: str, status: str, case_no: str = "330300-20261207-000001"
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(new_id()),
        "source": "/cases",
        "type": event_type,
        "subject": str(uuid.uuid4()),
        "time": "2026-12-07T02:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "case_id": str(uuid.uuid4()),
            "case_no": case_no,
            "item_code": "housing_provident_fund.withdrawal",
            "department_id": "330300-housing_provident_fund",
            "region_code": "330300",
            "applicant_id": applicant_id,
            "applicant_type": "citizen",
            "status": status,
        },
    }


async def test_her_cases_events_fill_her_inbox_and_what_waits_on_her_texts_her(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    outbox: SmsOutbox,
    case_svc: dict[str, str],
) -> None:
    phone = await journey.register()
    signed_in = (await journey.login(phone)).json()
    her = await journey.bound(signed_in["access_token"], people.lin)
    me = await client.get(
        "/identity/v1/me", headers={"Authorization": f"Bearer {her['access_token']}"}
    )
    account = me.json()["id"]
    texts_before = len(outbox.texts_to(phone))
    events = [
        case_event("case.submitted", account, "submitted"),
        case_event("case.status_changed", account, "supplement_requested"),
        case_event("case.status_changed", account, "submitted"),
        case_event("case.status_changed", account, "completed"),  # told by case.completed
        case_event("case.completed", account, "completed"),
    ]
    for event in events:
        answer = await client.post("/identity/v1/events", json=event, headers=case_svc)
        assert answer.status_code == 204, answer.text
    # The relay's redelivery is answered alike and makes nothing more.
    assert (
        await client.post("/identity/v1/events", json=events[1], headers=case_svc)
    ).status_code == 204

    mine = {"Authorization": f"Bearer {her['access_token']}"}
    inbox = (await client.get("/identity/v1/me/inbox", headers=mine)).json()
    assert [(m["kind"], m["case_status"]) for m in inbox["items"]] == [
        ("case_completed", "completed"),
        ("case_progressed", "submitted"),
        ("action_needed", "supplement_requested"),
        ("case_filed", "submitted"),
    ]
    assert inbox["unread"] == 4
    waiting = next(m for m in inbox["items"] if m["kind"] == "action_needed")
    assert waiting["texted"] is True
    [text] = outbox.texts_to(phone)[texts_before:]
    assert "330300-20261207-000001" in text
    assert "补充材料" in text

    read = await client.post(f"/identity/v1/me/inbox/{waiting['id']}/read", headers=mine)
    assert read.status_code == 204
    unread = (
        await client.get("/identity/v1/me/inbox", params={"unread_only": "true"}, headers=mine)
    ).json()
    assert waiting["id"] not in [m["id"] for m in unread["items"]]
    assert unread["unread"] == 3
    page = (await client.get("/identity/v1/me/inbox", params={"limit": 2}, headers=mine)).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is not None


async def test_nobody_else_reads_or_feeds_her_inbox(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    case_svc: dict[str, str],
    problem: Problem,
) -> None:
    her = await journey.real_named(people.lin)
    mine = {"Authorization": f"Bearer {her['access_token']}"}
    account = (await client.get("/identity/v1/me", headers=mine)).json()["id"]
    await client.post(
        "/identity/v1/events",
        json=case_event("case.submitted", account, "submitted"),
        headers=case_svc,
    )
    message = (await client.get("/identity/v1/me/inbox", headers=mine)).json()["items"][0]

    other = await journey.real_named(people.wang)
    theirs = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await client.get("/identity/v1/me/inbox", headers=theirs)).json()["items"] == []
    problem(
        await client.post(f"/identity/v1/me/inbox/{message['id']}/read", headers=theirs),
        404,
        "inbox_message_not_found",
    )
    # A citizen cannot post case events into anyone's inbox.
    forged = await client.post(
        "/identity/v1/events",
        json=case_event("case.submitted", account, "submitted"),
        headers={**theirs, "content-type": CLOUDEVENTS_JSON},
    )
    assert forged.status_code == 403
    unknown = case_event("case.overdue", account, "accepted")
    problem(
        await client.post("/identity/v1/events", json=unknown, headers=case_svc),
        422,
        "validation_failed",
    )
