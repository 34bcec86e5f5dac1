"""Faults with real processes: a producer and a consumer (``event_apps.py``) each run as a
uvicorn process on a free port, the producer's relay posting straight to the consumer. Whatever
is stopped or killed, every event is processed once, in the order of its subject."""

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from onevisit_dev.platform import free_port
from servicekit.db import create_engine
from servicekit.testing import POSTGRES_ENV, TokenMinter

pytestmark = pytest.mark.e2e

APPS_DIR = Path(__file__).resolve().parent
SUBJECTS = [f"case-{index}" for index in range(4)]
STEPS = 8  # per subject


@dataclass
class Service:
    """One uvicorn process of an app in ``event_apps.py``, started and stopped by the test."""

    factory: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(APPS_DIR),
            f"event_apps:{self.factory}",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode halves a start
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env={**env, **self.env}, stdout=out, stderr=out
            )

    async def ready(self, seconds: float = 60.0) -> None:
        """Until ``/readyz`` answers 200; fails at once if the process has exited."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            for _ in range(int(seconds / 0.05)):
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"{self.factory} exited:\n{self.log.read_text()[-3000:]}")
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.factory} was not ready within {seconds} s")

    async def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(how)
        for _ in range(1000):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.01)
        self.process.kill()
        self.process.wait()


async def _postgres_database(name: str, *, create: bool) -> None:
    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            statement = (
                f'CREATE DATABASE "{name}"'
                if create
                else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
            await connection.execute(text(statement))
    finally:
        await admin.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def database_urls(database_backend: str, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The producer's and the consumer's databases, each its own, on the run's backend."""
    if database_backend == "sqlite":
        yield {
            owner: f"sqlite+aiosqlite:///{tmp_path / f'{owner}.db'}"
            for owner in ("producer", "consumer")
        }
        return
    names = {
        owner: f"ov_test_events_{owner}_{secrets.token_hex(4)}"
        for owner in ("producer", "consumer")
    }
    for name in names.values():
        await _postgres_database(name, create=True)
    base = make_url(os.environ[POSTGRES_ENV])
    try:
        yield {
            owner: base.set(database=name).render_as_string(False) for owner, name in names.items()
        }
    finally:
        for name in names.values():
            await _postgres_database(name, create=False)


@dataclass
class Services:
    producer: Service
    consumer: Service
    database_urls: dict[str, str]

    async def stop(self) -> None:
        await asyncio.gather(self.producer.stop(), self.consumer.stop())

    async def query(self, owner: str, sql: str) -> list[Any]:
        engine = create_engine(self.database_urls[owner])
        try:
            async with engine.connect() as connection:
                return list(await connection.execute(text(sql)))
        finally:
            await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def services(
    database_urls: dict[str, str], tmp_path: Path
) -> AsyncIterator[Callable[..., Services]]:
    """Configures the two processes (started by the test): the consumer trusts a key of the
    test's, the producer's relay posts to the consumer with a token signed by it and retries
    quickly (a tenth of a second doubling up to half a second) and long enough never to give up
    here."""
    minter = TokenMinter()
    made: list[Services] = []

    def make(**consumer_settings: str) -> Services:
        consumer = Service(
            "create_consumer",
            {
                "EVENTS_CONSUMER_DATABASE_URL": database_urls["consumer"],
                "EVENTS_CONSUMER_VAR_DIR": str(tmp_path),
                "EVENTS_CONSUMER_JWKS_DOCUMENT": json.dumps(minter.jwks_document()),
                "EVENTS_CONSUMER_LOG_LEVEL": "WARNING",
                **{f"EVENTS_CONSUMER_{k.upper()}": v for k, v in consumer_settings.items()},
            },
            tmp_path / "consumer.log",
        )
        token = minter.mint("producer-svc", typ="service", loa=0, ttl_seconds=3600)
        producer = Service(
            "create_producer",
            {
                "EVENTS_PRODUCER_DATABASE_URL": database_urls["producer"],
                "EVENTS_PRODUCER_VAR_DIR": str(tmp_path),
                "EVENTS_PRODUCER_GATEWAY_URL": consumer.url,
                "EVENTS_PRODUCER_DELIVERY_TOKEN": token,
                "EVENTS_PRODUCER_LOG_LEVEL": "WARNING",
                "EVENTS_PRODUCER_OUTBOX_POLL_SECONDS": "0.1",
                "EVENTS_PRODUCER_OUTBOX_BACKOFF_BASE_SECONDS": "0.1",
                "EVENTS_PRODUCER_OUTBOX_BACKOFF_CAP_SECONDS": "0.5",
                "EVENTS_PRODUCER_OUTBOX_MAX_ATTEMPTS": "1000",
            },
            tmp_path / "producer.log",
        )
        made.append(Services(producer, consumer, database_urls))
        return made[-1]

    try:
        yield make
    finally:
        for running in made:
            await running.stop()


async def produce(producer: Service) -> list[str]:
    """Steps 1..STEPS of every subject, interleaved, one request (one transaction) each."""
    event_ids = []
    async with httpx.AsyncClient(base_url=producer.url, timeout=10.0) as client:
        for _ in range(STEPS):
            for subject in SUBJECTS:
                response = await client.post(f"/subjects/{subject}/steps")
                assert response.status_code == 201, response.text
                event_ids.append(response.json()["event_id"])
    return event_ids


def event_id_of(column: Any) -> str:
    """An id read with plain SQL: a UUID from PostgreSQL, 32 hex digits from SQLite."""
    return str(uuid.UUID(str(column)))


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    """Wait for ``condition``, looking every 10 ms, for at most ``seconds``."""
    for _ in range(int(seconds / 0.01)):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not so within {seconds} s")


async def assert_each_processed_once_in_subject_order(
    services: Services, event_ids: list[str]
) -> None:
    async def all_delivered() -> bool:
        statuses = await services.query("producer", "SELECT status FROM outbox_event")
        return len(statuses) == len(event_ids) and {status for (status,) in statuses} == {
            "delivered"
        }

    await until(all_delivered)
    processed = await services.query(
        "consumer", "SELECT event_id, subject, position FROM processed_step ORDER BY seq"
    )
    assert sorted(event_id_of(event_id) for event_id, _, _ in processed) == sorted(event_ids)
    positions: dict[str, list[int]] = defaultdict(list)
    for _, subject, position in processed:
        positions[subject].append(position)
    assert positions == {subject: list(range(1, STEPS + 1)) for subject in SUBJECTS}


async def test_events_produced_while_the_consumer_is_down_are_processed_once_each_in_order(
    services: Callable[..., Services],
) -> None:
    running = services()
    running.consumer.start()
    running.producer.start()
    await asyncio.gather(running.consumer.ready(), running.producer.ready())
    await running.consumer.stop()

    event_ids = await produce(running.producer)

    async def relay_found_the_consumer_down() -> bool:
        failed = await running.query(
            "producer", "SELECT 1 FROM outbox_event WHERE last_error = 'connect_error'"
        )
        return bool(failed)

    await until(relay_found_the_consumer_down)
    running.consumer.start()
    await running.consumer.ready()

    await assert_each_processed_once_in_subject_order(running, event_ids)


async def test_a_producer_killed_while_relaying_loses_and_doubles_nothing(
    services: Callable[..., Services],
) -> None:
    # The consumer answers its first events a second late, after committing them: the producer
    # dies between the consumer's commit and the answer, certainly.
    running = services(late_answer_seconds="1.0", late_answers=str(len(SUBJECTS)))
    running.consumer.start()
    running.producer.start()
    await asyncio.gather(running.consumer.ready(), running.producer.ready())

    event_ids = await produce(running.producer)

    async def consumer_processed_some() -> bool:
        return bool(await running.query("consumer", "SELECT 1 FROM processed_step"))

    await until(consumer_processed_some)
    await running.producer.stop(signal.SIGKILL)
    processed = {
        event_id_of(event_id)
        for (event_id,) in await running.query("consumer", "SELECT event_id FROM processed_step")
    }
    unrecorded = await running.query(
        "producer", "SELECT event_id FROM outbox_event WHERE status = 'pending'"
    )
    # Processed by the consumer, still pending at the producer: it will be delivered again.
    assert processed & {event_id_of(event_id) for (event_id,) in unrecorded}

    running.producer.start()
    await running.producer.ready()

    await assert_each_processed_once_in_subject_order(running, event_ids)
    async with httpx.AsyncClient(base_url=running.consumer.url) as client:
        assert (await client.get("/receipts")).json()["duplicates"] >= 1
