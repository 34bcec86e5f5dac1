"""Access notices: each access to her data the exchange recorded (its client alone, each event
once) becomes a message in her inbox showing who read what of hers, why, when, for which case,
and where in the ledger its receipt is; informational, so nothing is texted. Another service
cannot post one; an account that is not here gets nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from identity_svc.models import InboxMessage
from identity_svc.seed import seed
from identity_svc.settings import IdentitySettings
from servicekit.events import CLOUDEVENTS_JSON
from servicekit.ids import new_id
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey, People, SmsOutbox

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

EXCHANGE = "data-exchange-svc"
DEPARTMENT = "330302-civil_affairs"
CASE_NO = "330302-20261207-000031"


async def service_headers(
    app: FastAPI, settings: IdentitySettings, client: httpx.AsyncClient, client_id: str
) -> dict[str, str]:
    """A platform service's client, registered as the seed does, and its token's headers for
    events."""
    secret = "a" * 40
    configured = settings.model_copy(
        update={
            "seed_client_id": client_id,
            "seed_client_secret": SecretStr(secret),
            "seed_client_name": f"{client_id}（平台服务）",
            "seed_client_type": "service",
            "seed_client_scopes": "events:deliver",
        }
    )
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, configured)
    token = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert token.status_code == 200, token.text
    return {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "content-type": CLOUDEVENTS_JSON,
    }


@pytest.fixture
async def exchange(
    app: FastAPI, identity_settings: IdentitySettings, client: httpx.AsyncClient
) -> dict[str, str]:
    return await service_headers(app, identity_settings, client, EXCHANGE)


def data_accessed(account_id: str, *, ledger_seq: int = 41, **access: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(new_id()),
        "source": "/exchange",
        "type": "data.accessed",
        "subject": account_id,
        "time": "2026-12-07T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "account_id": account_id,
            "ledger_seq": ledger_seq,
            "kind": "call",
            "consumer": DEPARTMENT,
            "purpose": "elderly_allowance",
            "resource": "population",
            "fields": ["name", "birth_date"],
            "case_id": CASE_NO,
            "at": "2026-12-07T10:00:00Z",
            **access,
        },
    }


async def test_an_access_to_her_data_is_in_her_inbox_once_and_texts_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    journey: Journey,
    people: People,
    outbox: SmsOutbox,
    exchange: dict[str, str],
) -> None:
    phone = await journey.register()
    signed_in = (await journey.login(phone)).json()
    her = await journey.bound(signed_in["access_token"], people.lin)
    mine = bearer(her["access_token"])
    account = (await client.get("/identity/v1/me", headers=mine)).json()["id"]
    texts_before = len(outbox.texts_to(phone))

    event = data_accessed(account)
    answer = await client.post("/identity/v1/events", json=event, headers=exchange)
    assert answer.status_code == 204, answer.text
    # The relay's redelivery is answered alike and makes nothing more.
    again = await client.post("/identity/v1/events", json=event, headers=exchange)
    assert again.status_code == 204
    # A delivery of a life event of hers, with no case.
    delivered = data_accessed(
        account,
        ledger_seq=42,
        kind="delivery",
        consumer="330302-public_security",
        purpose="birth_registration",
        resource="child_birth_certificate",
        fields=["child_name"],
        case_id=None,
        at="2026-12-07T11:00:00Z",
    )
    delivered["time"] = "2026-12-07T11:00:00Z"
    answer = await client.post("/identity/v1/events", json=delivered, headers=exchange)
    assert answer.status_code == 204, answer.text

    inbox = (await client.get("/identity/v1/me/inbox", headers=mine)).json()
    assert inbox["unread"] == 2
    newest, oldest = inbox["items"]
    assert oldest["kind"] == "data_accessed"
    assert (oldest["case_no"], oldest["offer"], oldest["texted"]) == (None, None, False)
    assert oldest["access"] == {
        "ledger_seq": 41,
        "kind": "call",
        "consumer": DEPARTMENT,
        "purpose": "elderly_allowance",
        "resource": "population",
        "fields": ["name", "birth_date"],
        "case_id": CASE_NO,
        "at": "2026-12-07T10:00:00Z",
    }
    assert oldest["created_at"] == "2026-12-07T10:00:00Z"
    assert newest["access"]["ledger_seq"] == 42
    assert newest["access"]["kind"] == "delivery"
    assert newest["access"]["case_id"] is None
    assert outbox.texts_to(phone)[texts_before:] == []

    async with app.state.service.database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(InboxMessage).where(InboxMessage.owner_id == account)
        )
    assert count == 2


async def test_only_the_exchange_tells_accesses_and_an_unknown_account_gets_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    identity_settings: IdentitySettings,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    problem: Problem,
) -> None:
    her = await journey.real_named(people.lin)
    mine = bearer(her["access_token"])
    account = (await client.get("/identity/v1/me", headers=mine)).json()["id"]

    case_svc = await service_headers(app, identity_settings, client, "case-svc")
    forged = problem(
        await client.post("/identity/v1/events", json=data_accessed(account), headers=case_svc),
        403,
        "not_the_event_producer",
    )
    assert forged["event_type"] == "data.accessed"
    assert (await client.get("/identity/v1/me/inbox", headers=mine)).json()["items"] == []

    for nobody in (str(new_id()), "not-an-account"):
        answer = await client.post(
            "/identity/v1/events", json=data_accessed(nobody), headers=exchange
        )
        assert answer.status_code == 204, answer.text
    async with app.state.service.database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(InboxMessage)) == 0

    # Values or an identity number are no part of an access notice.
    malformed = data_accessed(account, kind="export")
    problem(
        await client.post("/identity/v1/events", json=malformed, headers=exchange),
        422,
        "validation_failed",
    )
