"""The relay: pending events are posted to their subscribers over real HTTP, at least once and
in order per subject, retried with backoff, dead-lettered when they cannot be delivered, and
shared between relays on PostgreSQL."""

import asyncio
import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase
from starlette.types import Receive, Scope, Send

from servicekit.auth import TokenVerifier
from servicekit.db import Database, new_metadata
from servicekit.events import (
    CLOUDEVENTS_JSON,
    DEAD,
    DELIVERED,
    PENDING,
    Delivery,
    Emission,
    Outbox,
    OutboxEventMixin,
    Post,
    Relay,
    RelayPolicy,
    TokenUnavailable,
    Undeliverable,
    redrive,
)
from servicekit.events.__main__ import main as events_command
from servicekit.http import make_http_client
from servicekit.testing import POSTGRES_ENV, ServedApp, TokenMinter


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxEvent(OutboxEventMixin, Base):
    __tablename__ = "outbox_event"


RATINGS = "/ratings/v1/events"
CITIZEN_INBOX = "/cases/v1/citizen-inbox/events"
SUBSCRIPTIONS = {
    "case.submitted": [RATINGS],
    "case.completed": [RATINGS, CITIZEN_INBOX],
}
#: Fast enough for tests, same shape as production: doubling from 1 s, capped at 8 s.
POLICY = RelayPolicy(
    batch_size=50,
    concurrency=8,
    poll_seconds=0.05,
    max_attempts=5,
    backoff_base_seconds=1.0,
    backoff_cap_seconds=8.0,
)


class Clock:
    """The outbox's and the relay's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Receipt:
    path: str
    headers: dict[str, str]
    event: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.event["subject"])

    @property
    def step(self) -> int:
        return int(self.event["data"]["step"])


@dataclass
class Subscriber:
    """Every subscriber, over real HTTP: records what it is posted (in the order requests
    arrive) and answers ``status_for(receipt)`` after ``delay_seconds``. It notes any event
    that arrives while a delivery of the same event is still in flight."""

    status_for: Callable[[Receipt], int] = lambda receipt: 204
    delay_seconds: float = 0.0
    headers_for: Callable[[Receipt], list[tuple[bytes, bytes]]] = lambda receipt: []
    receipts: list[Receipt] = field(default_factory=list)
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    overlapping: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        receipt = Receipt(scope["path"], headers, json.loads(body))
        self.receipts.append(receipt)
        delivery = (receipt.path, receipt.event["id"])
        if delivery in self.in_flight:
            self.overlapping.append(receipt.event["id"])
        self.in_flight.add(delivery)
        try:
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            status = self.status_for(receipt)
        finally:
            self.in_flight.discard(delivery)
        await send(
            {"type": "http.response.start", "status": status, "headers": self.headers_for(receipt)}
        )
        await send({"type": "http.response.body", "body": b""})

    def to(self, path: str) -> list[Receipt]:
        return [receipt for receipt in self.receipts if receipt.path == path]


@pytest_asyncio.fixture
async def database(blank_database_url: str) -> AsyncIterator[Database]:
    database = Database(blank_database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


class Subscribers:
    """The ASGI app the server runs, handing each request to the test's ``Subscriber``."""

    def __init__(self) -> None:
        self.current = Subscriber()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.current(scope, receive, send)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def _server() -> AsyncIterator[tuple[Subscribers, str]]:
    # One server for the module: stopping one takes a tenth of a second or two.
    subscribers = Subscribers()
    served = ServedApp(subscribers)
    await served.start()
    yield subscribers, served.url
    await served.stop()


@pytest.fixture
def subscriber(_server: tuple[Subscribers, str]) -> tuple[Subscriber, str]:
    """A fresh subscriber for the test, and the base URL it answers on."""
    subscribers, url = _server
    subscribers.current = Subscriber()
    return subscribers.current, url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(clock: Clock) -> Outbox:
    return Outbox(OutboxEvent, source="/cases", subscriptions=SUBSCRIPTIONS, clock=clock)


def service_token(minter: TokenMinter, sub: str = "case-svc") -> Callable[[], Awaitable[str]]:
    async def token() -> str:
        return minter.mint(sub, typ="service", loa=0)

    return token


@pytest_asyncio.fixture
async def relay_for(
    database: Database, outbox: Outbox, token_minter: TokenMinter
) -> AsyncIterator[Callable[..., Relay]]:
    """Relays of the test's outbox posting to a base URL, with a fixed jitter unless told."""
    async with AsyncExitStack() as clients:

        def make(
            base_url: str,
            *,
            policy: RelayPolicy = POLICY,
            token: Callable[[], Awaitable[str]] | None = None,
            jitter: float = 0.5,
            timeout_seconds: float = 2.0,
            of: Database = database,
            relaying: Outbox = outbox,
        ) -> Relay:
            http = make_http_client(
                base_url, timeout_seconds=timeout_seconds, connect_timeout_seconds=1.0
            )
            clients.push_async_callback(http.aclose)
            return Relay(
                relaying,
                sessionmaker=of.sessionmaker,
                http=http,
                token=token or service_token(token_minter),
                policy=policy,
                jitter=lambda: jitter,
            )

        yield make


async def emit(
    database: Database, outbox: Outbox, subject: str, step: int, type: str = "case.submitted"
) -> str:
    async with database.sessionmaker.begin() as session:
        event_id = await outbox.emit(
            session, type=type, subject=subject, data={"case_id": subject, "step": step}
        )
    return str(event_id)


async def rows_of(database: Database) -> list[OutboxEvent]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


async def row_of(database: Database, event_id: str, subscriber: str = RATINGS) -> OutboxEvent:
    return next(
        row
        for row in await rows_of(database)
        if str(row.event_id) == event_id and row.subscriber == subscriber
    )


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait for ``condition``, looking every 10 ms, for at most ``seconds``."""
    for _ in range(int(seconds / 0.01)):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not so within {seconds} s")


async def test_a_pending_event_is_posted_as_a_cloudevent_with_a_bearer_token(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
    token_minter: TokenMinter,
) -> None:
    recording, url = subscriber
    event_id = await emit(database, outbox, "case-1", 1, type="case.completed")
    clock.advance(2)

    assert await relay_for(url).relay_once() == 2

    assert sorted(receipt.path for receipt in recording.receipts) == sorted(
        [RATINGS, CITIZEN_INBOX]
    )
    stored = (await row_of(database, event_id)).envelope
    verifier = TokenVerifier(
        token_minter.jwks, issuer="http://127.0.0.1:8000/identity/v1", audience="onevisit"
    )
    for receipt in recording.receipts:
        assert receipt.headers["content-type"] == CLOUDEVENTS_JSON
        assert receipt.event == json.loads(stored)
        scheme, token = receipt.headers["authorization"].split(" ")
        assert scheme == "Bearer"
        assert (await verifier.verify(token)).typ == "service"
    for row in await rows_of(database):
        assert (row.status, row.attempts, row.last_error) == (DELIVERED, 1, None)
        assert row.delivered_at == clock.now


async def test_an_event_of_a_subject_waits_for_the_earlier_ones(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    first = await emit(database, outbox, "case-a", 1)
    for step in (2, 3):
        await emit(database, outbox, "case-a", step)
    failures = iter([503])
    recording.status_for = lambda receipt: next(failures, 204) if receipt.step == 1 else 204
    relay = relay_for(url)

    assert await relay.relay_once() == 1  # step 1 fails; 2 and 3 wait behind it
    assert await relay.relay_once() == 0  # step 1 is not due yet, and 2 still waits
    assert (await row_of(database, first)).status == PENDING

    clock.advance(POLICY.backoff_cap_seconds)
    for _ in range(3):
        assert await relay.relay_once() == 1
    assert [receipt.step for receipt in recording.receipts] == [1, 1, 2, 3]
    assert {row.status for row in await rows_of(database)} == {DELIVERED}


async def test_events_of_other_subjects_do_not_wait_for_a_failing_one(
    database: Database,
    outbox: Outbox,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    await emit(database, outbox, "case-a", 1)
    await emit(database, outbox, "case-b", 1)
    await emit(database, outbox, "case-b", 2)
    recording.status_for = lambda receipt: 503 if receipt.subject == "case-a" else 204
    relay = relay_for(url)

    await relay.relay_once()
    await relay.relay_once()

    delivered = [(r.subject, r.step) for r in recording.receipts if r.subject == "case-b"]
    assert delivered == [("case-b", 1), ("case-b", 2)]


async def test_an_event_of_a_subject_goes_once_the_earlier_one_is_dead(
    database: Database,
    outbox: Outbox,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    first = await emit(database, outbox, "case-a", 1)
    second = await emit(database, outbox, "case-a", 2)
    recording.status_for = lambda receipt: 422 if receipt.step == 1 else 204
    relay = relay_for(url)

    await relay.relay_once()
    await relay.relay_once()

    assert (await row_of(database, first)).status == DEAD
    assert (await row_of(database, second)).status == DELIVERED
    assert [receipt.step for receipt in recording.receipts] == [1, 2]


async def test_a_failed_delivery_is_retried_with_exponential_backoff_and_full_jitter(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: 503
    event_id = await emit(database, outbox, "case-a", 1)
    # A jitter of 0.5 draws half the ceiling: 1 s doubling, capped at 8 s.
    relay = relay_for(url, policy=RelayPolicy(max_attempts=6, backoff_cap_seconds=8.0))

    waits = []
    for _ in range(5):
        assert await relay.relay_once() == 1
        row = await row_of(database, event_id)
        waits.append((row.next_attempt_at - clock.now).total_seconds())
        assert await relay.relay_once() == 0  # not due before its time
        clock.now = row.next_attempt_at

    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert (row.status, row.attempts, row.last_error) == (PENDING, 5, "http_503")


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.999])
def test_the_backoff_is_drawn_uniformly_below_its_ceiling(jitter: float) -> None:
    policy = RelayPolicy(backoff_base_seconds=2.0, backoff_cap_seconds=60.0)
    assert [policy.backoff_seconds(failures, jitter) for failures in (1, 3, 10)] == [
        jitter * 2.0,
        jitter * 8.0,
        jitter * 60.0,
    ]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 401, 408, 409, 425, 429])
async def test_a_server_error_or_a_try_again_answer_is_retried(
    database: Database,
    outbox: Outbox,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
    status: int,
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: status
    event_id = await emit(database, outbox, "case-a", 1)

    await relay_for(url).relay_once()

    row = await row_of(database, event_id)
    assert (row.status, row.attempts, row.last_error) == (PENDING, 1, f"http_{status}")


@pytest.mark.parametrize("status", [400, 403, 404, 405, 410, 413, 415, 422])
async def test_any_other_client_error_dead_letters_at_once(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
    status: int,
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: status
    event_id = await emit(database, outbox, "case-a", 1)

    await relay_for(url).relay_once()

    row = await row_of(database, event_id)
    assert (row.status, row.attempts, row.last_error) == (DEAD, 1, f"http_{status}")
    assert row.dead_at == clock.now


async def test_a_subscriber_that_answers_too_late_is_retried(
    database: Database,
    outbox: Outbox,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    recording.delay_seconds = 0.3
    event_id = await emit(database, outbox, "case-a", 1)

    await relay_for(url, timeout_seconds=0.05).relay_once()

    row = await row_of(database, event_id)
    assert (row.status, row.last_error) == (PENDING, "timeout")


async def test_a_subscriber_that_cannot_be_reached_is_retried(
    database: Database, outbox: Outbox, relay_for: Callable[..., Relay]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    event_id = await emit(database, outbox, "case-a", 1)

    await relay_for(url).relay_once()

    row = await row_of(database, event_id)
    assert (row.status, row.last_error) == (PENDING, "connect_error")


async def test_a_delivery_that_keeps_failing_is_dead_lettered_after_max_attempts(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: 500
    event_id = await emit(database, outbox, "case-a", 1)
    relay = relay_for(url, policy=RelayPolicy(max_attempts=3))

    for _ in range(3):
        assert await relay.relay_once() == 1
        clock.advance(RelayPolicy().backoff_cap_seconds)
    assert await relay.relay_once() == 0

    row = await row_of(database, event_id)
    assert (row.status, row.attempts, row.last_error) == (DEAD, 3, "http_500")
    assert len(recording.receipts) == 3


async def test_retry_after_is_honoured_up_to_the_backoff_cap(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: 429
    recording.headers_for = lambda receipt: [(b"retry-after", b"5" if receipt.step == 1 else b"60")]
    soon = await emit(database, outbox, "case-a", 1)
    capped = await emit(database, outbox, "case-b", 2)

    await relay_for(url, jitter=0.0).relay_once()

    for event_id, seconds in ((soon, 5), (capped, POLICY.backoff_cap_seconds)):
        row = await row_of(database, event_id)
        assert (row.next_attempt_at - clock.now).total_seconds() == seconds


async def test_a_subscriber_that_got_an_event_does_not_get_it_again_when_another_fails(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    failures = iter([503, 503])
    recording.status_for = lambda receipt: (
        next(failures, 204) if receipt.path == CITIZEN_INBOX else 204
    )
    await emit(database, outbox, "case-a", 1, type="case.completed")
    relay = relay_for(url)

    for _ in range(3):
        await relay.relay_once()
        clock.advance(POLICY.backoff_cap_seconds)

    assert len(recording.to(RATINGS)) == 1
    assert len(recording.to(CITIZEN_INBOX)) == 3
    assert {row.status for row in await rows_of(database)} == {DELIVERED}


async def test_a_token_that_cannot_be_fetched_holds_delivery_without_spending_attempts(
    database: Database,
    outbox: Outbox,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber

    async def identity_is_down() -> str:
        raise httpx.ConnectError("identity-svc is down")

    event_id = await emit(database, outbox, "case-a", 1)

    with pytest.raises(TokenUnavailable):
        await relay_for(url, token=identity_is_down).relay_once()

    assert recording.receipts == []
    row = await row_of(database, event_id)
    assert (row.status, row.attempts, row.last_error) == (PENDING, 0, None)


class KeptToken:
    """A provider that keeps its token until told to forget it, as ClientCredentials does."""

    def __init__(self, minter: TokenMinter) -> None:
        self.minter = minter
        self.kept: str | None = None
        self.fetched: list[str] = []
        self.forgotten: list[str | None] = []

    async def __call__(self) -> str:
        if self.kept is None:
            self.kept = self.minter.mint("case-svc", typ="service", loa=0, sid=uuid.uuid4().hex)
            self.fetched.append(self.kept)
        return self.kept

    def forget(self, token: str | None = None) -> None:
        self.forgotten.append(token)
        if token is None or token == self.kept:
            self.kept = None


async def test_a_token_a_subscriber_refuses_is_forgotten_and_the_retry_carries_a_new_one(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
    token_minter: TokenMinter,
) -> None:
    recording, url = subscriber
    provider = KeptToken(token_minter)
    refused: set[str] = set()

    def status_for(receipt: Receipt) -> int:
        token = receipt.headers["authorization"].removeprefix("Bearer ")
        if not refused:
            refused.add(token)  # the first token is revoked, say, as it is sent
        return 401 if token in refused else 204

    recording.status_for = status_for
    event_id = await emit(database, outbox, "case-a", 1)
    relay = relay_for(url, token=provider)

    await relay.relay_once()
    first = await row_of(database, event_id)
    assert (first.status, first.last_error) == (PENDING, "http_401")
    assert provider.forgotten == [provider.fetched[0]]

    clock.advance(POLICY.backoff_cap_seconds)
    await relay.relay_once()

    assert (await row_of(database, event_id)).status == DELIVERED
    assert len(provider.fetched) == 2
    sent = [r.headers["authorization"].removeprefix("Bearer ") for r in recording.receipts]
    assert sent == provider.fetched


async def test_a_delivered_round_keeps_the_token(
    database: Database,
    outbox: Outbox,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
    token_minter: TokenMinter,
) -> None:
    recording, url = subscriber
    provider = KeptToken(token_minter)
    await emit(database, outbox, "case-a", 1)

    await relay_for(url, token=provider).relay_once()

    assert (len(recording.receipts), provider.forgotten) == (1, [])


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_deliveries_failures_and_dead_letters_by_type(
    database: Database,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    outbox = Outbox(
        OutboxEvent,
        source="/cases",
        subscriptions={"metrics.ok": [RATINGS], "metrics.refused": [RATINGS]},
        clock=clock,
    )
    recording.status_for = lambda receipt: 204 if receipt.event["type"] == "metrics.ok" else 410
    for step in range(3):
        await emit(database, outbox, f"case-{step}", step, type="metrics.ok")
    await emit(database, outbox, "case-9", 9, type="metrics.refused")
    ok = {"type": "metrics.ok", "subscriber": RATINGS}
    refused = {"type": "metrics.refused", "subscriber": RATINGS}
    counted = [
        ("outbox_events_delivered_total", ok),
        ("outbox_events_delivered_total", refused),
        ("outbox_delivery_failures_total", {**ok, "reason": "http_410"}),
        ("outbox_delivery_failures_total", {**refused, "reason": "http_410"}),
        ("outbox_events_dead_lettered_total", refused),
    ]
    # The registry is the process's, and this test runs once per database: count the change.
    before = [sample(name, **labels) for name, labels in counted]

    await relay_for(url, relaying=outbox).relay_once()

    after = [sample(name, **labels) for name, labels in counted]
    assert [now - then for now, then in zip(after, before, strict=True)] == [3, 0, 0, 1, 1]


async def test_the_backlog_gauges_show_pending_deliveries_and_the_oldest_ones_age(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    _recording, url = subscriber
    await emit(database, outbox, "case-a", 1)
    clock.advance(30)
    await emit(database, outbox, "case-b", 1)
    await emit(database, outbox, "case-c", 1, type="case.completed")
    clock.advance(60)
    relay = relay_for(url)

    await relay.housekeeping()
    assert sample("outbox_events_pending", type="case.submitted") == 2
    assert sample("outbox_events_pending", type="case.completed") == 2  # two subscribers
    assert sample("outbox_oldest_pending_age_seconds", type="case.submitted") == 90
    assert sample("outbox_oldest_pending_age_seconds", type="case.completed") == 60

    await relay.relay_once()
    await relay.housekeeping()
    assert sample("outbox_events_pending", type="case.submitted") == 0
    assert sample("outbox_oldest_pending_age_seconds", type="case.submitted") == 0


async def test_delivered_rows_are_purged_after_their_retention_and_dead_ones_kept(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: 422 if receipt.subject == "case-dead" else 204
    await emit(database, outbox, "case-old", 1)
    dead = await emit(database, outbox, "case-dead", 1)
    clock.advance(3600)
    recent = await emit(database, outbox, "case-recent", 1)
    relay = relay_for(url, policy=RelayPolicy(retention_seconds=7200))
    await relay.relay_once()

    clock.advance(3601)
    await relay.housekeeping()

    assert {str(row.event_id) for row in await rows_of(database)} == {dead, recent}


async def test_redrive_puts_dead_deliveries_back_to_pending_with_fresh_attempts(
    database: Database,
    outbox: Outbox,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: 404
    submitted = await emit(database, outbox, "case-a", 1)
    completed = await emit(database, outbox, "case-b", 1, type="case.completed")
    relay = relay_for(url)
    await relay.relay_once()
    assert {row.status for row in await rows_of(database)} == {DEAD}

    recording.status_for = lambda receipt: 204
    async with database.sessionmaker.begin() as session:
        assert await redrive(session, OutboxEvent, event_type="case.submitted", now=clock.now) == 1
    row = await row_of(database, submitted)
    assert (row.status, row.attempts, row.last_error, row.dead_at) == (PENDING, 0, None, None)
    async with database.sessionmaker.begin() as session:
        count = await redrive(
            session,
            OutboxEvent,
            event_id=uuid.UUID(completed),
            subscriber=RATINGS,
            now=clock.now,
        )
        assert count == 1
    await relay.relay_once()

    assert (await row_of(database, submitted)).status == DELIVERED
    assert (await row_of(database, completed, RATINGS)).status == DELIVERED
    assert (await row_of(database, completed, CITIZEN_INBOX)).status == DEAD


async def run_command(
    capsys: pytest.CaptureFixture[str], *arguments: str
) -> tuple[int | str | None, str]:
    """``python -m servicekit.events ...``, in a thread of this process (its own event loop):
    the exit status (0 unless it exits otherwise) and what it printed."""
    capsys.readouterr()
    try:
        await asyncio.to_thread(events_command, arguments)
        status: int | str | None = 0
    except SystemExit as exited:
        status = exited.code
    printed = capsys.readouterr()
    return status, printed.out + printed.err


async def test_the_redrive_command_lists_and_redrives_dead_deliveries(
    database: Database,
    outbox: Outbox,
    blank_database_url: str,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
    capsys: pytest.CaptureFixture[str],
) -> None:
    recording, url = subscriber
    recording.status_for = lambda receipt: 400
    first = await emit(database, outbox, "case-a", 1)
    second = await emit(database, outbox, "case-b", 1)
    await relay_for(url).relay_once()
    target = ["--database-url", blank_database_url]

    status, listed = await run_command(capsys, "dead", *target)
    assert status == 0
    assert first in listed
    assert second in listed
    assert "error=http_400" in listed

    status, refused = await run_command(capsys, "redrive", *target)
    assert status == 2, refused  # redriving everything is said explicitly

    status, said = await run_command(capsys, "redrive", *target, "--event-id", first)
    assert (status, said.strip()) == (0, "1 dead deliveries put back to pending")
    assert (await row_of(database, first)).status == PENDING
    assert (await row_of(database, second)).status == DEAD


async def test_a_running_relay_delivers_a_commit_at_once_rather_than_at_its_next_poll(
    database: Database, subscriber: tuple[Subscriber, str], relay_for: Callable[..., Relay]
) -> None:
    recording, url = subscriber
    outbox = Outbox(OutboxEvent, source="/cases", subscriptions=SUBSCRIPTIONS)
    relay = relay_for(url, relaying=outbox, policy=RelayPolicy(poll_seconds=600.0))
    async with relay.running():
        await asyncio.sleep(0.05)  # the relay has looked once and found nothing
        await emit(database, outbox, "case-a", 1)

        async def delivered() -> bool:
            return len(recording.receipts) == 1

        await until(delivered)


async def test_a_running_relay_delivers_the_queued_events_of_a_subject_one_after_the_other(
    database: Database, subscriber: tuple[Subscriber, str], relay_for: Callable[..., Relay]
) -> None:
    recording, url = subscriber
    outbox = Outbox(OutboxEvent, source="/cases", subscriptions=SUBSCRIPTIONS)
    async with database.sessionmaker.begin() as session:
        for step in range(5):
            await outbox.emit(session, type="case.submitted", subject="case-a", data={"step": step})
    # Each round delivers one event of the subject; the next goes without waiting for a poll.
    relay = relay_for(url, relaying=outbox, policy=RelayPolicy(poll_seconds=600.0))
    async with relay.running():

        async def all_delivered() -> bool:
            return len(recording.receipts) == 5

        await until(all_delivered)

    assert [receipt.step for receipt in recording.receipts] == list(range(5))


async def test_a_stopping_relay_records_the_round_it_has_in_flight(
    database: Database, subscriber: tuple[Subscriber, str], relay_for: Callable[..., Relay]
) -> None:
    recording, url = subscriber
    recording.delay_seconds = 0.2
    outbox = Outbox(OutboxEvent, source="/cases", subscriptions=SUBSCRIPTIONS)
    event_id = await emit(database, outbox, "case-a", 1)
    relay = relay_for(url, relaying=outbox)
    async with relay.running():

        async def posted() -> bool:
            return bool(recording.in_flight)

        await until(posted)

    assert (await row_of(database, event_id)).status == DELIVERED


async def test_a_relay_that_is_not_enabled_delivers_nothing(
    database: Database, subscriber: tuple[Subscriber, str], relay_for: Callable[..., Relay]
) -> None:
    recording, url = subscriber
    outbox = Outbox(OutboxEvent, source="/cases", subscriptions=SUBSCRIPTIONS)
    relay = relay_for(url, relaying=outbox, policy=RelayPolicy(enabled=False, poll_seconds=0.01))
    async with relay.running():
        await emit(database, outbox, "case-a", 1)
        await asyncio.sleep(0.1)  # ten polls of a relay that would run

    assert recording.receipts == []


@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set")
@pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)
async def test_two_relays_share_a_postgresql_outbox_without_overlap_and_in_subject_order(
    blank_database_url: str,
    database: Database,
    subscriber: tuple[Subscriber, str],
    relay_for: Callable[..., Relay],
    token_minter: TokenMinter,
) -> None:
    recording, url = subscriber
    recording.delay_seconds = 0.005
    outbox = Outbox(OutboxEvent, source="/cases", subscriptions=SUBSCRIPTIONS)
    subjects, steps = 20, 8
    for step in range(steps):
        for subject in range(subjects):
            await emit(database, outbox, f"case-{subject}", step)
    policy = RelayPolicy(batch_size=5, concurrency=5, poll_seconds=0.02)
    async with AsyncExitStack() as replicas:
        for replica in ("replica-1", "replica-2"):
            # Each replica has its own engine (its own connections), as its own process would.
            own = Database(blank_database_url)
            replicas.push_async_callback(own.dispose)
            relay = relay_for(
                url,
                relaying=outbox,
                of=own,
                policy=policy,
                token=service_token(token_minter, replica),
            )
            await replicas.enter_async_context(relay.running())

        async def all_delivered() -> bool:
            return all(row.status == DELIVERED for row in await rows_of(database))

        await until(all_delivered, seconds=30)

    ids = [receipt.event["id"] for receipt in recording.receipts]
    assert len(ids) == len(set(ids)) == subjects * steps  # every event, none twice
    assert recording.overlapping == []
    for subject in range(subjects):
        received = [r.step for r in recording.receipts if r.subject == f"case-{subject}"]
        assert received == list(range(steps))
    by_replica = {
        jwt.decode(r.headers["authorization"][7:], options={"verify_signature": False})["sub"]
        for r in recording.receipts
    }
    assert by_replica == {"replica-1", "replica-2"}


async def test_an_addressed_event_goes_to_each_of_its_subscribers_as_its_addresser_sends_it(
    database: Database,
    clock: Clock,
    subscriber: tuple[Subscriber, str],
) -> None:
    """Subscribers a service keeps itself: each gets its own part of the event, posted where
    and as the addresser says (here: a path of its own and a header naming it); one whose
    subscriber is gone is dead-lettered at once, unsent."""
    recording, url = subscriber
    outbox = Outbox(
        OutboxEvent, source="/exchange", subscriptions={"life.birth_registered": []}, clock=clock
    )
    async with database.sessionmaker.begin() as session:
        (event_id,) = await outbox.emit_all(
            session,
            [
                Emission(
                    "life.birth_registered",
                    "event-1",
                    {},
                    to={"sub-a": {"part": "a"}, "sub-b": {"part": "b"}, "sub-gone": {}},
                )
            ],
        )
    addressed: list[list[str]] = []

    async def address(deliveries: Sequence[Delivery]) -> list[Post | Undeliverable]:
        addressed.append([delivery.subscriber for delivery in deliveries])
        return [
            Undeliverable("unsubscribed")
            if delivery.subscriber == "sub-gone"
            else Post(
                f"{url}/hooks/{delivery.subscriber}",
                delivery.envelope.encode(),
                {"content-type": CLOUDEVENTS_JSON, "x-subscriber": delivery.subscriber},
            )
            for delivery in deliveries
        ]

    async with httpx.AsyncClient() as http:
        relay = Relay(
            outbox, sessionmaker=database.sessionmaker, http=http, address=address, policy=POLICY
        )
        assert await relay.relay_once() == 3

    assert addressed == [["sub-a", "sub-b", "sub-gone"]]
    got = {receipt.path: receipt for receipt in recording.receipts}
    assert sorted(got) == ["/hooks/sub-a", "/hooks/sub-b"]
    for name in ("a", "b"):
        receipt = got[f"/hooks/sub-{name}"]
        assert receipt.headers["x-subscriber"] == f"sub-{name}"
        assert receipt.event["id"] == str(event_id)
        assert receipt.event["data"] == {"part": name}
        assert "authorization" not in receipt.headers
    states = {row.subscriber: (row.status, row.last_error) for row in await rows_of(database)}
    assert states == {
        "sub-a": (DELIVERED, None),
        "sub-b": (DELIVERED, None),
        "sub-gone": (DEAD, "unsubscribed"),
    }


def test_a_relay_posts_with_a_token_or_an_addresser_not_both(outbox: Outbox) -> None:
    async def token() -> str:
        return "t"

    async def address(deliveries: Sequence[Delivery]) -> list[Post | Undeliverable]:
        return []

    http = httpx.AsyncClient()
    sessionmaker: Any = None
    with pytest.raises(TypeError):
        Relay(outbox, sessionmaker=sessionmaker, http=http)
    with pytest.raises(TypeError):
        Relay(outbox, sessionmaker=sessionmaker, http=http, token=token, address=address)
