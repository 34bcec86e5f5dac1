"""What the kit's outbox costs and how fast its relay delivers (``python -m bench.outbox``).

On PostgreSQL (``ONEVISIT_TEST_POSTGRES_URL``, fresh databases of its own), with a real consumer
in another process: uvicorn serving a kit app that verifies the relay's token, records each
event in its inbox and a row of its own, in one transaction per event, as a service would.
In alternating rounds of ``--events`` events (``--per-subject`` per subject):

1. Writing. The same rows, one transaction per event (``--concurrency`` at a time, as requests
   would): a bare ``INSERT`` into a table of the outbox's shape and indexes (the baseline),
   against ``Outbox.emit`` (envelope, personal-data check, the row per subscriber).
2. Delivering. The relay (``RelayPolicy()``'s defaults: rounds of 100, 16 posts in flight)
   drains the backlog the emits left to the consumer, against a bare loop posting the same
   envelopes (fresh ids) to the same consumer with the same concurrency and token: events per
   second, and this process's CPU per event (claiming, recording, posting).

Then the lag, once: events emitted at a steady ``--lag-rate`` (default: half what the relay
delivered) for ``--lag-seconds`` with the relay running, each from its producer's commit to
the consumer's processing (both clocks are this machine's), p50 and p99, against the round
trip of a bare POST of each event straight to the consumer at the same rate.

The consumer, PostgreSQL and this process share the machine's cores (and the machine may be
busy with other work): absolute figures move; the same-run ratios are the result.
``--short`` runs a small round, to see that it works.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Double, Uuid, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.proc import cpu_seconds, wait_until_serving
from onevisit_dev.platform import REPO_ROOT, free_port
from servicekit.app import build_app
from servicekit.auth import PrincipalDep, require_type
from servicekit.db import Database, SessionDep, new_metadata, utcnow
from servicekit.events import (
    CLOUDEVENTS_JSON,
    DELIVERED,
    PENDING,
    CloudEvent,
    InboxEventMixin,
    Outbox,
    OutboxEventMixin,
    Relay,
    RelayPolicy,
    record_in_inbox,
)
from servicekit.http import make_http_client
from servicekit.ids import new_id
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState
from servicekit.testing import TokenMinter

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
EVENTS_PATH = "/events"
EVENT_TYPE = "case.completed"


# The producer's tables (this process).


class ProducerBase(DeclarativeBase):
    metadata = new_metadata()


class OutboxEvent(OutboxEventMixin, ProducerBase):
    __tablename__ = "outbox_event"


class BareEvent(OutboxEventMixin, ProducerBase):
    """The baseline's table: the outbox's columns and indexes, written without ``emit``."""

    __tablename__ = "bare_event"


# The consumer (``uvicorn bench.outbox:create_consumer --factory``).


class ConsumerBase(DeclarativeBase):
    metadata = new_metadata()


class InboxEvent(InboxEventMixin, ConsumerBase):
    __tablename__ = "inbox_event"


class ProcessedEvent(ConsumerBase):
    """What the consumer did with an event, and when (wall clock, for the lag)."""

    __tablename__ = "processed_event"
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    processed_at: Mapped[float] = mapped_column(Double())


class ConsumerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="BENCH_OUTBOX_CONSUMER_", extra="ignore", frozen=True
    )

    service_name: str = "bench-outbox-consumer"
    jwks_document: str = '{"keys": []}'


consumer_router = APIRouter()


@consumer_router.post(EVENTS_PATH, status_code=204)
async def receive(
    event: CloudEvent[dict[str, Any]], session: SessionDep, principal: PrincipalDep
) -> None:
    require_type(principal, "service")
    if await record_in_inbox(session, InboxEvent, event):
        session.add(ProcessedEvent(event_id=event.id, processed_at=time.time()))


def create_consumer() -> FastAPI:
    settings = ConsumerSettings()
    keys: dict[str, Any] = json.loads(settings.jwks_document)

    async def jwks() -> dict[str, Any]:
        return keys

    @asynccontextmanager
    async def lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[ServiceState]:
        async with kit.database.engine.begin() as connection:
            await connection.run_sync(ConsumerBase.metadata.create_all)
        yield kit

    return build_app(
        settings, title="bench consumer", routers=[consumer_router], lifespan=lifespan, jwks=jwks
    )


# The measurements.


@dataclass
class Round:
    bare_insert: float  # events/s
    emit: float
    relay: float
    bare_post: float
    relay_cpu_ms: float  # this process's CPU per event delivered
    bare_post_cpu_ms: float
    consumer_cpu_relay_ms: float  # the consumer's CPU per event, under each
    consumer_cpu_bare_ms: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    value: float = ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return value


async def in_parallel(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run ``one(0) ... one(count - 1)``, ``concurrency`` at a time; the seconds it took."""
    queue = iter(range(count))

    async def worker() -> None:
        for index in queue:
            await one(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def paced(rate: float, count: int, one: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """Start ``one(0) ... one(count - 1)`` at a steady ``rate`` per second, each at its time
    whatever the earlier ones cost (arrivals, as requests come), and wait for them all."""
    started = time.perf_counter()
    running = []
    for index in range(count):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        running.append(asyncio.create_task(one(index)))
    await asyncio.gather(*running)


def subject_of(index: int, per_subject: int) -> str:
    return f"case-{index // per_subject}"


class Bench:
    def __init__(self, database: Database, outbox: Outbox, token: str, args: Any) -> None:
        self.database = database
        self.outbox = outbox
        self.token = token
        self.args = args

    async def provide_token(self) -> str:
        return self.token

    async def reset(self) -> None:
        async with self.database.engine.begin() as connection:
            await connection.execute(text("TRUNCATE outbox_event, bare_event"))

    async def bare_inserts(self, first: int, count: int) -> float:
        """Rows ``first ... first + count - 1`` of the baseline table; the seconds it took."""
        # An envelope of the size emit writes, made once: the baseline is the insert alone.
        envelope = json.dumps(
            {
                "specversion": "1.0",
                "id": str(new_id()),
                "source": "/bench",
                "type": EVENT_TYPE,
                "subject": "case-000000",
                "time": "2026-11-26T02:00:00.000000Z",
                "datacontenttype": "application/json",
                "data": {"case_id": "case-000000"},
            }
        )

        async def one(index: int) -> None:
            now = utcnow()
            async with self.database.sessionmaker.begin() as session:
                await session.execute(
                    insert(BareEvent),
                    [
                        {
                            "event_id": new_id(),
                            "event_type": EVENT_TYPE,
                            "subject": subject_of(first + index, self.args.per_subject),
                            "subscriber": EVENTS_PATH,
                            "envelope": envelope,
                            "status": PENDING,
                            "attempts": 0,
                            "emitted_at": now,
                            "next_attempt_at": now,
                        }
                    ],
                )

        return await in_parallel(count, self.args.concurrency, one)

    async def emits(self, first: int, count: int) -> float:
        """Events ``first ... first + count - 1`` through ``Outbox.emit``; the seconds."""

        async def one(index: int) -> None:
            subject = subject_of(first + index, self.args.per_subject)
            async with self.database.sessionmaker.begin() as session:
                await self.outbox.emit(
                    session, type=EVENT_TYPE, subject=subject, data={"case_id": subject}
                )

        return await in_parallel(count, self.args.concurrency, one)

    async def writes(self) -> tuple[float, float]:
        """Bare inserts and emits of ``--events`` rows each, in halves ordered A B B A so that
        what the machine does meanwhile falls on both alike: events per second of each."""
        half = self.args.events // 2
        bare = await self.bare_inserts(0, half)
        emit = await self.emits(0, half)
        emit += await self.emits(half, half)
        bare += await self.bare_inserts(half, half)
        return 2 * half / bare, 2 * half / emit

    def relay(self, http: httpx.AsyncClient) -> Relay:
        return Relay(
            self.outbox,
            sessionmaker=self.database.sessionmaker,
            http=http,
            token=self.provide_token,
        )

    async def drained(self) -> None:
        """Until every delivery is delivered, looking every 20 ms (a cheap count)."""
        undelivered = select(func.count()).where(OutboxEvent.status != DELIVERED)
        for _ in itertools.count():
            async with self.database.sessionmaker() as session:
                if not await session.scalar(undelivered):
                    return
            await asyncio.sleep(0.02)

    async def relay_drain(self, http: httpx.AsyncClient) -> tuple[float, float]:
        """The relay drains the backlog: events per second and CPU ms per event."""
        relay = self.relay(http)
        cpu = time.process_time()
        started = time.perf_counter()
        async with relay.running():
            await self.drained()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        return float(self.args.events / seconds), float(cpu / self.args.events * 1000)

    async def bare_posts(self, http: httpx.AsyncClient) -> tuple[float, float]:
        """The same envelopes, fresh ids, posted in a plain loop with the same concurrency."""
        async with self.database.sessionmaker() as session:
            stored = list(await session.scalars(select(OutboxEvent.envelope)))
        headers = {"content-type": CLOUDEVENTS_JSON, "authorization": f"Bearer {self.token}"}

        async def one(index: int) -> None:
            envelope = json.loads(stored[index])
            envelope["id"] = str(new_id())
            body = json.dumps(envelope).encode()
            response = await http.post(EVENTS_PATH, content=body, headers=headers)
            if response.status_code != 204:
                raise RuntimeError(f"the consumer answered {response.status_code}")

        cpu = time.process_time()
        seconds = await in_parallel(len(stored), RelayPolicy().concurrency, one)
        cpu = time.process_time() - cpu
        return len(stored) / seconds, cpu / len(stored) * 1000

    async def round(self, http: httpx.AsyncClient, consumer_pid: int) -> Round:
        await self.reset()
        bare_insert, emit = await self.writes()
        consumer_cpu = cpu_seconds([consumer_pid])
        relay, relay_cpu = await self.relay_drain(http)
        consumer_relay = (cpu_seconds([consumer_pid]) - consumer_cpu) / self.args.events * 1000
        consumer_cpu = cpu_seconds([consumer_pid])
        bare_post, bare_post_cpu = await self.bare_posts(http)
        consumer_bare = (cpu_seconds([consumer_pid]) - consumer_cpu) / self.args.events * 1000
        return Round(
            bare_insert,
            emit,
            relay,
            bare_post,
            relay_cpu,
            bare_post_cpu,
            consumer_relay,
            consumer_bare,
        )

    async def paced_posts(self, http: httpx.AsyncClient, rate: float) -> list[float]:
        """The baseline of the lag: each event posted straight to the consumer at the same
        steady rate; the seconds of each round trip."""
        headers = {"content-type": CLOUDEVENTS_JSON, "authorization": f"Bearer {self.token}"}
        trips: list[float] = []

        async def one(index: int) -> None:
            subject = subject_of(index, self.args.per_subject)
            envelope = {
                "specversion": "1.0",
                "id": str(new_id()),
                "source": "/bench",
                "type": EVENT_TYPE,
                "subject": f"paced-{subject}",
                "time": utcnow().isoformat(),
                "datacontenttype": "application/json",
                "data": {"case_id": subject},
            }
            started = time.perf_counter()
            response = await http.post(EVENTS_PATH, json=envelope, headers=headers)
            trips.append(time.perf_counter() - started)
            if response.status_code != 204:
                raise RuntimeError(f"the consumer answered {response.status_code}")

        await paced(rate, int(rate * self.args.lag_seconds), one)
        return trips

    async def lag(self, http: httpx.AsyncClient, consumer_db: Database, rate: float) -> list[float]:
        """Seconds from each event's commit to its processing, at a steady emission rate."""
        await self.reset()
        committed: dict[uuid.UUID, float] = {}
        relay = self.relay(http)

        async def one(index: int) -> None:
            subject = subject_of(index, self.args.per_subject)
            async with self.database.sessionmaker.begin() as session:
                event_id = await self.outbox.emit(
                    session, type=EVENT_TYPE, subject=f"lag-{subject}", data={"case_id": subject}
                )
            committed[event_id] = time.time()

        async with relay.running():
            await paced(rate, int(rate * self.args.lag_seconds), one)
            await self.drained()
        async with consumer_db.sessionmaker() as session:
            rows = await session.execute(
                select(ProcessedEvent.event_id, ProcessedEvent.processed_at)
            )
            processed = dict(rows.all())
        return [processed[event_id] - at for event_id, at in committed.items()]


@asynccontextmanager
async def fresh_databases(
    admin_url: str, *owners: str, prefix: str = "bench_outbox"
) -> AsyncIterator[dict[str, str]]:
    """A new database per owner on the server of ``admin_url`` (``<prefix>_<owner>_<random>``),
    their URLs by owner; dropped on exit."""
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    suffix = secrets.token_hex(4)
    names = {owner: f"{prefix}_{owner}_{suffix}" for owner in owners}
    async with admin.connect() as connection:
        for name in names.values():
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(admin_url)
    try:
        yield {
            owner: base.set(database=name).render_as_string(False) for owner, name in names.items()
        }
    finally:
        async with admin.connect() as connection:
            for name in names.values():
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@contextmanager
def consumer_process(
    database_url: str, jwks: dict[str, Any], tmp: Path
) -> Iterator[tuple[str, int]]:
    """The consumer as its own uvicorn process: its URL and process id."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("BENCH_OUTBOX_")}
    env.update(
        BENCH_OUTBOX_CONSUMER_DATABASE_URL=database_url,
        BENCH_OUTBOX_CONSUMER_JWKS_DOCUMENT=json.dumps(jwks),
        BENCH_OUTBOX_CONSUMER_LOG_LEVEL="WARNING",
        BENCH_OUTBOX_CONSUMER_VAR_DIR=str(tmp),
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.outbox:create_consumer",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with (tmp / "consumer.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/readyz", process=process, seconds=60)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def report(
    rounds: list[Round], lags: list[float], trips: list[float], rate: float, args: Any
) -> None:
    def median(values: list[float]) -> float:
        middle: float = statistics.median(values)
        return middle

    bare_insert = median([r.bare_insert for r in rounds])
    emit = median([r.emit for r in rounds])
    relay = median([r.relay for r in rounds])
    bare_post = median([r.bare_post for r in rounds])
    relay_cpu = median([r.relay_cpu_ms for r in rounds])
    bare_post_cpu = median([r.bare_post_cpu_ms for r in rounds])
    consumer_relay = median([r.consumer_cpu_relay_ms for r in rounds])
    consumer_bare = median([r.consumer_cpu_bare_ms for r in rounds])
    print(
        f"\n{args.events} events, {args.per_subject} per subject, {args.concurrency} writers, "
        f"{len(rounds)} alternating rounds (medians), PostgreSQL:"
    )
    print(f"  bare INSERT, one per transaction  {bare_insert:8.0f} events/s   (baseline)")
    print(
        f"  Outbox.emit, one per transaction  {emit:8.0f} events/s   "
        f"ratio emit/bare insert {emit / bare_insert:.2f}"
    )
    print(
        f"  bare POST loop to the consumer    {bare_post:8.0f} events/s   "
        f"this process {bare_post_cpu:.2f} CPU ms/event, consumer {consumer_bare:.2f}   (baseline)"
    )
    print(
        f"  relay to the consumer             {relay:8.0f} events/s   "
        f"this process {relay_cpu:.2f} CPU ms/event, consumer {consumer_relay:.2f}"
    )
    print(
        f"  ratio relay/bare POST {relay / bare_post:.2f}, relay/bare insert "
        f"{relay / bare_insert:.2f}, relay/emit {relay / emit:.2f}"
    )
    if not lags:
        return
    lag50, lag99 = percentile(lags, 0.50) * 1000, percentile(lags, 0.99) * 1000
    trip50, trip99 = percentile(trips, 0.50) * 1000, percentile(trips, 0.99) * 1000
    print(f"\nat a steady {rate:.0f} events/s for {args.lag_seconds:.0f} s:")
    print(
        f"  bare POST to the consumer, round trip    p50 {trip50:7.1f} ms   "
        f"p99 {trip99:7.1f} ms   (baseline)"
    )
    print(f"  commit to processing, through the relay  p50 {lag50:7.1f} ms   p99 {lag99:7.1f} ms")
    print(f"  ratio lag/round trip  p50 {lag50 / trip50:.2f}, p99 {lag99 / trip99:.2f}")


async def run(args: Any) -> None:
    minter = TokenMinter()
    token = minter.mint("bench-producer", typ="service", loa=0, ttl_seconds=3600)
    outbox = Outbox(OutboxEvent, source="/bench", subscriptions={EVENT_TYPE: [EVENTS_PATH]})
    async with fresh_databases(os.environ[POSTGRES_ENV], "producer", "consumer") as urls:
        database = Database(urls["producer"])
        consumer_db = Database(urls["consumer"])
        async with database.engine.begin() as connection:
            await connection.run_sync(ProducerBase.metadata.create_all)
        with (
            tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp,
            consumer_process(urls["consumer"], minter.jwks_document(), Path(tmp)) as (url, pid),
        ):
            http = make_http_client(
                url, timeout_seconds=10.0, connect_timeout_seconds=2.0, max_connections=64
            )
            bench = Bench(database, outbox, token, args)
            try:
                warm = Bench(
                    database, outbox, token, argparse.Namespace(**{**vars(args), "events": 100})
                )
                await warm.round(http, pid)  # connections, caches, the consumer's first requests
                rounds = []
                for number in range(args.rounds):
                    result = await bench.round(http, pid)
                    rounds.append(result)
                    print(
                        f"  round {number + 1}: insert {result.bare_insert:.0f}/s, "
                        f"emit {result.emit:.0f}/s, relay {result.relay:.0f}/s, "
                        f"bare POST {result.bare_post:.0f}/s",
                        flush=True,
                    )
                rate = args.lag_rate or statistics.median(r.relay for r in rounds) / 2
                trips, lags = [], []
                if args.lag_seconds > 0:
                    trips = await bench.paced_posts(http, rate)
                    lags = await bench.lag(http, consumer_db, rate)
            finally:
                await http.aclose()
                await database.dispose()
                await consumer_db.dispose()
    report(rounds, lags, trips, rate, args)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox", description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="events per round (even)")
    parser.add_argument("--per-subject", type=int, default=5, help="events of each subject")
    parser.add_argument("--concurrency", type=int, default=16, help="writers at once")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--lag-seconds", type=float, default=10.0, help="0 leaves the lag out")
    parser.add_argument(
        "--lag-rate", type=float, default=0.0, help="events/s (0: half the relay's)"
    )
    parser.add_argument("--short", action="store_true", help="one small round, to see it work")
    args = parser.parse_args()
    if args.short:
        args.events, args.rounds, args.lag_seconds = 300, 1, 2.0
    args.events -= args.events % 2  # written in two halves
    if not os.environ.get(POSTGRES_ENV):
        print(f"skipped: the outbox is measured on PostgreSQL; set {POSTGRES_ENV}")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
