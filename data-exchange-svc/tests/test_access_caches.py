"""What each process keeps in memory to check calls: the catalogue and the active grants. A
decision taken through this process takes effect at once; one taken elsewhere (another process,
the seed) within the documented bound. A call then reads the database once. Time is a clock
the tests turn."""

import asyncio
import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update

from data_exchange_svc.calls.service import AccessChecks
from data_exchange_svc.grants import workflow
from data_exchange_svc.grants.cache import ActiveGrants
from data_exchange_svc.models import DataResource, SharingGrant
from data_exchange_svc.resources.catalogue import Catalogue
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.testing import ManualClock, TokenMinter, bearer

Headers = dict[str, str]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

CALL: dict[str, Any] = {
    "resource": "population",
    "subject": {"id_number": "330302195203140248"},
    "fields": ["registered_region"],
    "purpose": "face_verification",
}
GRANT_SECONDS = 5.0
CATALOGUE_SECONDS = 10.0


@pytest.fixture
def clock(app: FastAPI) -> ManualClock:
    """The app's catalogue and grant cache, on a clock the test turns."""
    manual = ManualClock()
    checks: AccessChecks = app.state.service.access_checks
    app.state.service.access_checks = AccessChecks(
        catalogue=Catalogue(
            app.state.service.database.sessionmaker, refresh_seconds=CATALOGUE_SECONDS, clock=manual
        ),
        active_grants=ActiveGrants(ttl_seconds=GRANT_SECONDS, clock=manual),
        rate_limiter=checks.rate_limiter,
        cases_of_subjects=checks.cases_of_subjects,
    )
    return manual


@pytest.fixture
async def service(app: FastAPI, token_minter: TokenMinter) -> tuple[str, Headers]:
    """A platform service of its own holding a grant for CALL (no consent asked of services):
    its grant's id and its token."""
    name = f"test-svc-{secrets.token_hex(4)}"
    grant = SharingGrant(
        consumer=name,
        resource_code="population",
        fields=["registered_region"],
        purposes=["face_verification"],
    )
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(grant)
    return str(grant.id), bearer(token_minter.mint(name, typ="service", loa=0))


async def revoke_elsewhere(app: FastAPI, grant_id: str) -> None:
    """As another process of the exchange would: straight in the database."""
    async with app.state.service.database.sessionmaker.begin() as session:
        await session.execute(
            update(SharingGrant)
            .where(SharingGrant.id == uuid.UUID(grant_id))
            .values(status="revoked", revoked_at=utcnow())
        )


async def test_a_grant_revoked_through_another_process_stops_within_the_cache_time(
    client: httpx.AsyncClient,
    app: FastAPI,
    service: tuple[str, Headers],
    problem: Problem,
    clock: ManualClock,
) -> None:
    grant_id, token = service
    assert (await client.post("/exchange/v1/calls", json=CALL, headers=token)).status_code == 200
    await revoke_elsewhere(app, grant_id)
    clock.now += GRANT_SECONDS - 0.1
    # The documented bound: until then this process still answers by the grant it read.
    assert (await client.post("/exchange/v1/calls", json=CALL, headers=token)).status_code == 200
    clock.now += 0.1
    problem(await client.post("/exchange/v1/calls", json=CALL, headers=token), 403, "no_grant")


async def test_a_grant_revoked_through_this_process_stops_at_once_though_just_used(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem, clock: ManualClock
) -> None:
    department = f"330302-test_{secrets.token_hex(4)}"
    system = bearer(token_minter.mint("system-1", typ="department_system", loa=0, dept=department))
    provider = bearer(
        token_minter.mint(
            "officer-7", typ="staff", dept="330302-public_security", roles=["data_steward"]
        )
    )
    application = {
        "resource": "population",
        "fields": ["sex"],
        "purposes": ["statistics"],
        "legal_basis": "统计法 第七条",
        "rate_limit": {"per_minute": 600},
    }
    # A match (no consent asked): refused, and "no grant" is cached.
    match = {
        "resource": "population",
        "subject": CALL["subject"],
        "claims": {"sex": "female"},
        "purpose": "statistics",
    }
    problem(await client.post("/exchange/v1/matches", json=match, headers=system), 403, "no_grant")
    grant_id = (await client.post("/exchange/v1/grants", json=application, headers=system)).json()[
        "id"
    ]
    expires_at = (utcnow() + dt.timedelta(days=30)).isoformat()
    approved = await client.post(
        f"/exchange/v1/grants/{grant_id}/approve", json={"expires_at": expires_at}, headers=provider
    )
    assert approved.status_code == 200, approved.text
    # The approval counts at once, though "no grant" was cached a moment ago.
    assert (
        await client.post("/exchange/v1/matches", json=match, headers=system)
    ).status_code == 200
    revoked = await client.post(
        f"/exchange/v1/grants/{grant_id}/revoke", json={"reason": "done"}, headers=provider
    )
    assert revoked.status_code == 200, revoked.text
    problem(await client.post("/exchange/v1/matches", json=match, headers=system), 403, "no_grant")


async def test_grants_read_while_a_revocation_commits_are_not_kept(
    app: FastAPI, service: tuple[str, Headers], clock: ManualClock
) -> None:
    """A call that reads the grants after the revocation's flush but before its commit still
    sees the grant (as it would without a cache); once the revocation commits, the cache no
    longer holds it."""
    grant_id, _ = service
    checks: AccessChecks = app.state.service.access_checks
    consumer = (await _grant(app, grant_id)).consumer
    provider = Principal(
        sub="officer-7",
        typ="staff",
        loa=2,
        # The service's grant is the platform's (no region): the province's steward revokes it.
        dept="330000-public_security",
        roles=["data_steward"],
        token="unused",
    )
    sessionmaker = app.state.service.database.sessionmaker

    async def active() -> int:
        async with sessionmaker() as session:
            grants = await checks.active_grants.of(
                session, consumer=consumer, resource_code="population", now=utcnow()
            )
        return len(grants)

    assert await active() == 1
    async with sessionmaker.begin() as revoking:
        await workflow.revoke(
            revoking,
            provider,
            uuid.UUID(grant_id),
            reason="done",
            now=utcnow(),
            active_grants=checks.active_grants,
        )
        # Uncommitted: another connection still reads the grant as approved, and this read
        # is not kept past the commit.
        assert await active() == 1
    assert await active() == 0


async def _grant(app: FastAPI, grant_id: str) -> SharingGrant:
    async with app.state.service.database.sessionmaker() as session:
        grant = await session.get(SharingGrant, uuid.UUID(grant_id))
    assert grant is not None
    return grant


async def test_a_catalogue_change_made_elsewhere_is_seen_within_the_refresh_time(
    client: httpx.AsyncClient,
    app: FastAPI,
    service: tuple[str, Headers],
    problem: Problem,
    clock: ManualClock,
) -> None:
    _, token = service
    assert (await client.post("/exchange/v1/calls", json=CALL, headers=token)).status_code == 200

    async def classify(classification: str) -> str:
        async with app.state.service.database.sessionmaker.begin() as session:
            resource = await session.get(DataResource, "population")
            assert resource is not None
            before, resource.classification = resource.classification, classification
        return before

    before = await classify("not_shared")
    try:
        clock.now += CATALOGUE_SECONDS - 0.1
        assert (
            await client.post("/exchange/v1/calls", json=CALL, headers=token)
        ).status_code == 200
        clock.now += 0.1
        refused = await client.post("/exchange/v1/calls", json=CALL, headers=token)
        problem(refused, 403, "resource_not_shared")
    finally:
        await classify(before)


MATCH: dict[str, Any] = {
    "resource": "population",
    "subject": {"id_number": "330302195203140248"},
    "claims": {"registered_region": "330302026003"},
    "purpose": "face_verification",
}


@pytest.mark.parametrize(
    ("path", "body"), [("/exchange/v1/calls", CALL), ("/exchange/v1/matches", MATCH)]
)
async def test_a_services_call_or_match_reads_the_database_once_when_its_grants_are_cached(
    client: httpx.AsyncClient,
    app: FastAPI,
    service: tuple[str, Headers],
    path: str,
    body: dict[str, Any],
) -> None:
    """One query, and its connection is back in the pool by the time the answer arrives."""
    _, token = service
    engine = app.state.service.database.engine
    assert (await client.post(path, json=body, headers=token)).status_code == 200
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The request's statements: the life events' relays poll their outboxes meanwhile.
        if "event_delivery" not in statement and "outbox_event" not in statement:
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        response = await client.post(path, json=body, headers=token)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    assert len(statements) == 1, statements
    assert "population_record" in statements[0]
    # The request gave its connection back (a relay's round may hold one for a moment).
    for _ in range(200):
        if engine.pool.checkedout() == 0:
            break
        await asyncio.sleep(0.01)
    assert engine.pool.checkedout() == 0
