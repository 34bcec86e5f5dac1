"""Every access to her data reaches her inbox: each allowed call, match or delivery about a
subject linked to an account becomes one ``data.accessed`` event for the platform (ids and
codes only), told once, across rounds and restarts; refused attempts, unlinked subjects and
loads tell nothing."""

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data_exchange_svc.citizens.access_notices import DATA_ACCESSED, tell_accesses
from data_exchange_svc.models import LedgerEntry, OutboxEvent, SharingGrant
from data_exchange_svc.registry.dataset import PersonRow
from data_exchange_svc.settings import ExchangeSettings
from servicekit.db import Database
from servicekit.events import Outbox
from servicekit.testing import TokenMinter, bearer

Headers = dict[str, str]
ConsentGiver = Callable[..., Awaitable[str]]
GrantMaker = Callable[..., Awaitable[Headers]]

CASE = "330302-20261126-000081"
FIELDS = ["name", "birth_date"]
PURPOSE = "elderly_allowance"


def call_body(id_number: str, **overrides: Any) -> dict[str, Any]:
    return {
        "resource": "population",
        "subject": {"id_number": id_number},
        "fields": FIELDS,
        "purpose": PURPOSE,
        "case_id": CASE,
        **overrides,
    }


@pytest.fixture
async def department(app: FastAPI, token_minter: TokenMinter) -> tuple[str, Headers]:
    """A department granted her name and birth date for the allowance; a clerk's token."""
    department_id = f"330302-test_{secrets.token_hex(4)}"
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            SharingGrant(
                consumer=department_id,
                resource_code="population",
                fields=FIELDS,
                purposes=[PURPOSE],
            )
        )
    return department_id, bearer(token_minter.mint("clerk-7", typ="staff", dept=department_id))


def platform_of(app: FastAPI) -> Outbox:
    outbox: Outbox = app.state.service.life_events.platform
    return outbox


async def tell(sessionmaker: async_sessionmaker[AsyncSession], platform: Outbox) -> int:
    async with sessionmaker.begin() as session:
        return await tell_accesses(session, platform, batch_limit=500)


async def notices(app: FastAPI) -> list[OutboxEvent]:
    async with app.state.service.database.sessionmaker() as session:
        return list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.event_type == DATA_ACCESSED)
                .order_by(OutboxEvent.seq)
            )
        )


async def allowed_entries(app: FastAPI) -> list[LedgerEntry]:
    async with app.state.service.database.sessionmaker() as session:
        return list(
            await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.outcome == "allowed", LedgerEntry.kind == "call")
                .order_by(LedgerEntry.seq)
            )
        )


async def test_an_allowed_call_on_her_data_tells_her_account_who_why_what_and_when(
    client: httpx.AsyncClient,
    app: FastAPI,
    department: tuple[str, Headers],
    demo_consent: ConsentGiver,
    demo_citizen: PersonRow,
) -> None:
    department_id, staff = department
    await demo_consent(consumer=department_id, fields=FIELDS, purpose=PURPOSE, case_id=CASE)
    called = await client.post(
        "/exchange/v1/calls", json=call_body(demo_citizen.id_number), headers=staff
    )
    assert called.status_code == 200, called.text

    assert await tell(app.state.service.database.sessionmaker, platform_of(app)) >= 1

    (entry,) = await allowed_entries(app)
    (row,) = await notices(app)
    assert (row.subscriber, row.subject) == ("/identity/v1/events", "account-demo")
    envelope = json.loads(row.envelope)
    assert envelope["source"] == "/exchange"
    assert envelope["data"] == {
        "account_id": "account-demo",
        "ledger_seq": entry.seq,
        "kind": "call",
        "consumer": department_id,
        "purpose": PURPOSE,
        "resource": "population",
        "fields": FIELDS,
        "case_id": CASE,
        "at": entry.at.isoformat(),
    }
    # Ids and codes: neither her identity number nor what was read.
    assert demo_citizen.id_number not in row.envelope
    assert demo_citizen.name not in row.envelope


async def test_a_refused_attempt_or_a_subject_no_account_is_linked_to_tells_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    department: tuple[str, Headers],
    identity_svc: Headers,
    service_with_grant: GrantMaker,
    demo_citizen: PersonRow,
    population: list[PersonRow],
) -> None:
    _, staff = department
    linked = await client.put(
        "/exchange/v1/citizen-links/account-demo",
        json={"id_number": demo_citizen.id_number},
        headers=identity_svc,
    )
    assert linked.status_code == 200, linked.text
    # Her data, but she did not consent: refused, nothing disclosed.
    refused = await client.post(
        "/exchange/v1/calls", json=call_body(demo_citizen.id_number), headers=staff
    )
    assert refused.status_code == 403
    # Allowed, about somebody no account is linked to.
    service = await service_with_grant(resource="population", fields=FIELDS, purposes=[PURPOSE])
    allowed = await client.post(
        "/exchange/v1/calls", json=call_body(population[1].id_number), headers=service
    )
    assert allowed.status_code == 200, allowed.text

    assert await tell(app.state.service.database.sessionmaker, platform_of(app)) == 2
    assert await notices(app) == []


async def test_each_access_is_told_once_across_rounds_and_a_restart(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: ExchangeSettings,
    department: tuple[str, Headers],
    demo_consent: ConsentGiver,
    demo_citizen: PersonRow,
) -> None:
    department_id, staff = department
    await demo_consent(consumer=department_id, fields=FIELDS, purpose=PURPOSE, case_id=CASE)
    first = await client.post(
        "/exchange/v1/calls", json=call_body(demo_citizen.id_number), headers=staff
    )
    assert first.status_code == 200, first.text
    platform = platform_of(app)
    sessionmaker = app.state.service.database.sessionmaker
    assert await tell(sessionmaker, platform) >= 1
    # Nothing new in the ledger: nothing told again.
    assert await tell(sessionmaker, platform) == 0
    assert len(await notices(app)) == 1

    second = await client.post(
        "/exchange/v1/calls", json=call_body(demo_citizen.id_number), headers=staff
    )
    assert second.status_code == 200, second.text
    # Another process on the same database (a restart): it goes on from the stored cursor.
    restarted = Database(settings.database_url)
    try:
        assert await tell(restarted.sessionmaker, platform) == 1
        assert await tell(restarted.sessionmaker, platform) == 0
    finally:
        await restarted.dispose()

    told = [json.loads(row.envelope)["data"]["ledger_seq"] for row in await notices(app)]
    assert told == [entry.seq for entry in await allowed_entries(app)]
    assert len(told) == 2


async def test_a_round_passes_at_most_its_batch_and_the_next_goes_on_from_there(
    client: httpx.AsyncClient,
    app: FastAPI,
    department: tuple[str, Headers],
    demo_consent: ConsentGiver,
    demo_citizen: PersonRow,
) -> None:
    department_id, staff = department
    await demo_consent(consumer=department_id, fields=FIELDS, purpose=PURPOSE, case_id=CASE)
    for _ in range(3):
        called = await client.post(
            "/exchange/v1/calls", json=call_body(demo_citizen.id_number), headers=staff
        )
        assert called.status_code == 200, called.text
    platform = platform_of(app)
    sessionmaker = app.state.service.database.sessionmaker
    async with sessionmaker.begin() as session:
        assert await tell_accesses(session, platform, batch_limit=2) == 2
    async with sessionmaker.begin() as session:
        assert await tell_accesses(session, platform, batch_limit=2) >= 1

    told = [json.loads(row.envelope)["data"]["ledger_seq"] for row in await notices(app)]
    assert told == [entry.seq for entry in await allowed_entries(app)]
    assert len(told) == 3
