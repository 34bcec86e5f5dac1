"""Two tiny services built like the platform's, for ``test_events_processes.py``, which runs
each as a real uvicorn process (``uvicorn --app-dir libs/servicekit/tests event_apps:...``):

- the producer records numbered steps of subjects and emits ``step.recorded`` for each, in the
  same transaction, through its outbox; its relay posts them to the consumer (its "gateway");
- the consumer verifies the relay's token, records each event in its inbox and, in the same
  transaction, a row of its own per event processed (no unique key: a second processing of an
  event would show as a second row). It can answer its first requests late, after committing,
  so that a producer killed meanwhile has delivered events it has not recorded as delivered.

Both create their tables at start (the platform's services migrate with Alembic instead).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Integer, String, Uuid, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.app import build_app
from servicekit.auth import PrincipalDep, require_type
from servicekit.db import Database, SessionDep, new_metadata
from servicekit.events import (
    CloudEvent,
    InboxEventMixin,
    Outbox,
    OutboxEventMixin,
    OutboxSettings,
    Relay,
    record_in_inbox,
)
from servicekit.ids import new_id
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState, state_of

EVENTS_PATH = "/events"


async def _create_tables(database: Database, base: type[DeclarativeBase]) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(base.metadata.create_all)


# The producer.


class ProducerBase(DeclarativeBase):
    metadata = new_metadata()


class OutboxEvent(OutboxEventMixin, ProducerBase):
    __tablename__ = "outbox_event"


class Step(ProducerBase):
    __tablename__ = "step"
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=new_id)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer())


OUTBOX = Outbox(OutboxEvent, source="/producer", subscriptions={"step.recorded": [EVENTS_PATH]})


class ProducerSettings(ServiceSettings, OutboxSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTS_PRODUCER_", extra="ignore", frozen=True)

    service_name: str = "events-producer"
    #: The bearer token deliveries carry (the platform's services fetch theirs).
    delivery_token: SecretStr = SecretStr("")


producer_router = APIRouter()


class Recorded(BaseModel):
    event_id: uuid.UUID
    position: int


@producer_router.post("/subjects/{subject}/steps", status_code=201)
async def record_step(subject: str, session: SessionDep) -> Recorded:
    done = await session.scalar(select(func.count()).where(Step.subject == subject)) or 0
    step = Step(id=new_id(), subject=subject, position=done + 1)
    session.add(step)
    event_id = await OUTBOX.emit(
        session,
        type="step.recorded",
        subject=subject,
        data={"step_id": str(step.id), "position": step.position},
    )
    return Recorded(event_id=event_id, position=step.position)


def create_producer() -> FastAPI:
    settings = ProducerSettings()

    async def delivery_token() -> str:
        return settings.delivery_token.get_secret_value()

    @asynccontextmanager
    async def lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[ServiceState]:
        await _create_tables(kit.database, ProducerBase)
        relay = Relay(
            OUTBOX,
            sessionmaker=kit.database.sessionmaker,
            http=kit.http,
            token=delivery_token,
            policy=settings.relay_policy(),
        )
        async with relay.running():
            yield kit

    async def no_keys() -> dict[str, Any]:
        return {"keys": []}

    return build_app(
        settings, title="producer", routers=[producer_router], lifespan=lifespan, jwks=no_keys
    )


# The consumer.


class ConsumerBase(DeclarativeBase):
    metadata = new_metadata()


class InboxEvent(InboxEventMixin, ConsumerBase):
    __tablename__ = "inbox_event"


class ProcessedStep(ConsumerBase):
    """One row per processing of an event, in the order they were processed."""

    __tablename__ = "processed_step"
    seq: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    subject: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer())


class ConsumerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTS_CONSUMER_", extra="ignore", frozen=True)

    service_name: str = "events-consumer"
    #: The JWKS that signs delivery tokens, as JSON (the test's ``TokenMinter``).
    jwks_document: str = '{"keys": []}'
    #: The first ``late_answers`` events are answered this late, after being committed.
    late_answer_seconds: float = 0.0
    late_answers: int = 0


@dataclass(eq=False, kw_only=True)
class ConsumerState(ServiceState):
    #: Deliveries of an event processed already, answered without processing it again.
    duplicates: int = 0


class StepRecorded(BaseModel):
    step_id: uuid.UUID
    position: int


consumer_router = APIRouter()


@consumer_router.post(EVENTS_PATH, status_code=204)
async def receive_event(
    event: CloudEvent[StepRecorded],
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
) -> None:
    require_type(principal, "service")
    if not await record_in_inbox(session, InboxEvent, event):
        state_of(request, ConsumerState).duplicates += 1
        return
    session.add(
        ProcessedStep(event_id=event.id, subject=event.subject or "", position=event.data.position)
    )


@consumer_router.get("/receipts")
async def receipts(request: Request) -> dict[str, int]:
    return {"duplicates": state_of(request, ConsumerState).duplicates}


class LateAnswers:
    """Holds the answer to the first ``count`` events for ``seconds``: the request's
    transaction has committed by the time the answer starts, so the event is processed and
    its producer does not know it yet."""

    def __init__(self, app: ASGIApp, *, seconds: float, count: int) -> None:
        self.app = app
        self.seconds = seconds
        self.left = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != EVENTS_PATH or self.left <= 0:
            await self.app(scope, receive, send)
            return
        self.left -= 1

        async def late_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(self.seconds)
            await send(message)

        await self.app(scope, receive, late_send)


def create_consumer() -> FastAPI:
    settings = ConsumerSettings()
    keys: dict[str, Any] = json.loads(settings.jwks_document)

    async def jwks() -> dict[str, Any]:
        return keys

    @asynccontextmanager
    async def lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[ConsumerState]:
        await _create_tables(kit.database, ConsumerBase)
        yield ConsumerState.over(kit)

    app = build_app(
        settings, title="consumer", routers=[consumer_router], lifespan=lifespan, jwks=jwks
    )
    app.add_middleware(
        LateAnswers, seconds=settings.late_answer_seconds, count=settings.late_answers
    )
    return app
