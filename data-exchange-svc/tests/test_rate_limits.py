"""Per-grant rate limits: the consumer asks for a rate, the provider approves it (or another);
past it a call is refused 429 ``grant_rate_limited`` with Retry-After, recorded in the ledger
like every refusal, and no other grant is affected. Time is a clock the tests turn, except
in Redis (the real one of this machine), whose counters every process of the exchange shares."""

import datetime as dt
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from structlog.testing import capture_logs

from data_exchange_svc.calls.service import AccessChecks
from data_exchange_svc.grants.cache import ActiveGrant
from data_exchange_svc.grants.rate_limits import GrantRateLimiter
from data_exchange_svc.models import LedgerEntry
from servicekit.db import utcnow
from servicekit.testing import REDIS_URL, ManualClock, TokenMinter, bearer

Headers = dict[str, str]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
ConsentGiver = Callable[..., Awaitable[str]]

CASE = "330302-20261126-000031"
CALL: dict[str, Any] = {
    "resource": "population",
    "subject": {"id_number": "330302195203140248"},
    "fields": ["registered_region"],
    "purpose": "household_transfer",
    "case_id": CASE,
}
PROVIDER = "330302-public_security"


@pytest.fixture
def clock(app: FastAPI) -> ManualClock:
    """The app's rate counters, on a clock the test turns."""
    manual = ManualClock()
    checks: AccessChecks = app.state.service.access_checks
    app.state.service.access_checks = AccessChecks(
        catalogue=checks.catalogue,
        active_grants=checks.active_grants,
        rate_limiter=GrantRateLimiter.in_process(clock=manual),
        cases_of_subjects=checks.cases_of_subjects,
    )
    return manual


def in_days(days: float) -> str:
    return (utcnow() + dt.timedelta(days=days)).isoformat()


async def granted_department(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    demo_consent: ConsentGiver,
    *,
    asked: dict[str, int] | None,
    approved: dict[str, Any] | None = None,
) -> tuple[Headers, dict[str, Any], dict[str, Any]]:
    """A fresh department that applied (asking for ``asked``), was approved (with ``approved``
    added to the decision) and holds the demo citizen's consent: its system's token, the
    grant as applied for and as approved."""
    department = f"330302-test_{secrets.token_hex(4)}"
    system = bearer(token_minter.mint("system-1", typ="department_system", loa=0, dept=department))
    application = {
        "resource": "population",
        "fields": ["registered_region"],
        "purposes": ["household_transfer"],
        "legal_basis": "户口登记条例 第十条",
        "rate_limit": asked,
    }
    applied = await client.post("/exchange/v1/grants", json=application, headers=system)
    assert applied.status_code == 201, applied.text
    provider = bearer(
        token_minter.mint("officer-7", typ="staff", dept=PROVIDER, roles=["data_steward"])
    )
    decision = await client.post(
        f"/exchange/v1/grants/{applied.json()['id']}/approve",
        json={"expires_at": in_days(30), **(approved or {})},
        headers=provider,
    )
    assert decision.status_code == 200, decision.text
    await demo_consent(
        consumer=department,
        fields=["registered_region"],
        purpose="household_transfer",
        case_id=CASE,
    )
    return system, applied.json(), decision.json()


async def ledger_entry(app: FastAPI, call_id: str) -> LedgerEntry:
    async with app.state.service.database.sessionmaker() as session:
        entry = await session.scalar(
            select(LedgerEntry).where(LedgerEntry.call_id == uuid.UUID(call_id))
        )
    assert entry is not None
    return entry


async def test_a_consumer_over_its_grants_rate_is_refused_with_retry_after_and_recorded(
    client: httpx.AsyncClient,
    app: FastAPI,
    token_minter: TokenMinter,
    demo_consent: ConsentGiver,
    problem: Problem,
    clock: ManualClock,
) -> None:
    limited, _, grant = await granted_department(
        client, token_minter, demo_consent, asked={"per_minute": 30, "burst": 2}
    )
    assert grant["rate_limit"] == {"per_minute": 30, "burst": 2}
    other, _, _ = await granted_department(
        client, token_minter, demo_consent, asked={"per_minute": 30, "burst": 2}
    )
    for _ in range(2):
        answered = await client.post("/exchange/v1/calls", json=CALL, headers=limited)
        assert answered.status_code == 200, answered.text

    refused = await client.post("/exchange/v1/calls", json=CALL, headers=limited)
    body = problem(refused, 429, "grant_rate_limited")
    # Half a call a second: the next token is two seconds away.
    assert refused.headers["Retry-After"] == "2"
    assert body["retry_after_seconds"] == 2
    assert "fields" not in body
    entry = await ledger_entry(app, body["call_id"])
    assert (entry.outcome, entry.code) == ("refused", "grant_rate_limited")
    assert body["receipt"]["entry"]["code"] == "grant_rate_limited"

    # Another grant, with a bucket of its own, is not affected.
    assert (await client.post("/exchange/v1/calls", json=CALL, headers=other)).status_code == 200

    clock.now += 1.9
    problem(
        await client.post("/exchange/v1/calls", json=CALL, headers=limited),
        429,
        "grant_rate_limited",
    )
    clock.now += 0.1
    assert (await client.post("/exchange/v1/calls", json=CALL, headers=limited)).status_code == 200


async def test_the_provider_approves_the_rate_asked_for_or_sets_another(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    demo_consent: ConsentGiver,
    problem: Problem,
    clock: ManualClock,
) -> None:
    # The burst defaults to a second's worth of the rate.
    _, pending, as_asked = await granted_department(
        client, token_minter, demo_consent, asked={"per_minute": 600}
    )
    assert pending["status"] == "pending"
    assert pending["rate_limit"] == as_asked["rate_limit"] == {"per_minute": 600, "burst": 10}
    limited, _, imposed = await granted_department(
        client,
        token_minter,
        demo_consent,
        asked={"per_minute": 6000},
        approved={"rate_limit": {"per_minute": 60, "burst": 1}},
    )
    assert imposed["rate_limit"] == {"per_minute": 60, "burst": 1}
    assert (await client.post("/exchange/v1/calls", json=CALL, headers=limited)).status_code == 200
    refused = await client.post("/exchange/v1/calls", json=CALL, headers=limited)
    problem(refused, 429, "grant_rate_limited")
    assert refused.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    "rate_limit",
    [{"per_minute": 0}, {"per_minute": 60, "burst": 0}, {"burst": 5}, {"per_minute": 60, "x": 1}],
    ids=["no-rate", "no-burst", "burst-alone", "unknown-member"],
)
async def test_a_rate_is_at_least_one_call_a_minute_with_a_burst_of_one(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem, rate_limit: Any
) -> None:
    system = bearer(
        token_minter.mint("system-1", typ="department_system", loa=0, dept="330302-test_rates")
    )
    application = {
        "resource": "population",
        "fields": ["registered_region"],
        "purposes": ["household_transfer"],
        "legal_basis": "户口登记条例 第十条",
        "rate_limit": rate_limit,
    }
    response = await client.post("/exchange/v1/grants", json=application, headers=system)
    problem(response, 422, "validation_failed")


def grant(*, per_minute: int | None, burst: int | None) -> ActiveGrant:
    return ActiveGrant(
        id=uuid.uuid4(),
        fields=frozenset({"name"}),
        purposes=frozenset({"p"}),
        expires_at=None,
        rate_per_minute=per_minute,
        rate_burst=burst,
        region=None,
    )


async def test_a_call_relying_on_two_grants_is_charged_to_both_or_to_neither() -> None:
    clock = ManualClock()
    limiter = GrantRateLimiter.in_process(clock=clock)
    roomy, tight = grant(per_minute=60, burst=5), grant(per_minute=60, burst=1)
    assert await limiter.take([roomy, tight]) is None
    assert await limiter.take([roomy, tight]) == 1
    # The refused call took nothing from the roomy grant: 4 of its 5 are left.
    assert [await limiter.take([roomy]) for _ in range(5)] == [None, None, None, None, 1]


async def test_a_grant_without_a_rate_is_never_limited_and_a_bucket_refills_to_its_burst() -> None:
    clock = ManualClock()
    limiter = GrantRateLimiter.in_process(clock=clock)
    free = grant(per_minute=None, burst=None)
    assert all([await limiter.take([free]) is None for _ in range(1000)])
    slow = grant(per_minute=1, burst=2)
    assert [await limiter.take([slow]) for _ in range(3)] == [None, None, 60]
    clock.now += 3600
    # An hour later the bucket holds its burst, not sixty calls.
    assert [await limiter.take([slow]) for _ in range(3)] == [None, None, 60]


async def test_processes_counting_in_redis_share_a_grants_rate(redis_key_prefix: str) -> None:
    """Two processes of the exchange (two limiters on the real Redis): together they allow the
    grant's burst once, not once each."""
    processes = [
        GrantRateLimiter.in_redis(REDIS_URL, key_prefix=redis_key_prefix, timeout_seconds=1.0)
        for _ in range(2)
    ]
    shared = grant(per_minute=1, burst=3)
    try:
        answers = [await processes[n % 2].take([shared]) for n in range(4)]
        assert answers[:3] == [None, None, None]
        assert answers[3] is not None
        assert 55 <= answers[3] <= 60
        # Another grant has buckets of its own.
        assert await processes[1].take([grant(per_minute=1, burst=1)]) is None
    finally:
        for limiter in processes:
            await limiter.aclose()


async def test_calls_pass_uncounted_while_redis_does_not_answer() -> None:
    limiter = GrantRateLimiter.in_redis(
        "redis://127.0.0.1:1/0", key_prefix="onevisit-test:down:", timeout_seconds=0.2
    )
    tight = grant(per_minute=1, burst=1)
    try:
        with capture_logs() as logs:
            assert [await limiter.take([tight]) for _ in range(3)] == [None, None, None]
        assert [log["event"] for log in logs] == ["rate_limit_store_unavailable"]
    finally:
        await limiter.aclose()
