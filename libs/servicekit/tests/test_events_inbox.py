"""The consumer's inbox: an event id recorded in the transaction that processes the event, so
that a redelivery is answered 2xx and not processed again (exactly-once processing)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.app import build_app
from servicekit.db import Database, SessionDep, new_metadata
from servicekit.events import CLOUDEVENTS_JSON, CloudEvent, InboxEventMixin, record_in_inbox
from servicekit.settings import ServiceSettings

Problem = Any


class Base(DeclarativeBase):
    metadata = new_metadata()


class InboxEvent(InboxEventMixin, Base):
    __tablename__ = "inbox_event"


class RatingInvitation(Base):
    """What the consumer does with an event: here, invite the applicant to rate the case."""

    __tablename__ = "rating_invitation"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64))


class CaseCompleted(BaseModel):
    case_id: str


router = APIRouter()


@router.post("/ratings/v1/events", status_code=204)
async def receive_case_event(event: CloudEvent[CaseCompleted], session: SessionDep) -> None:
    if not await record_in_inbox(session, InboxEvent, event):
        return  # processed already: answered 204 again
    session.add(RatingInvitation(case_id=event.data.case_id))


def case_completed(case_id: str = "case-1", **changes: Any) -> dict[str, Any]:
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/cases",
        "type": "case.completed",
        "subject": case_id,
        "time": "2026-11-26T02:00:00Z",
        "datacontenttype": "application/json",
        "data": {"case_id": case_id},
    }
    envelope.update(changes)
    return envelope


@pytest_asyncio.fixture
async def database(blank_database_url: str) -> AsyncIterator[Database]:
    database = Database(blank_database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


@pytest_asyncio.fixture
async def consumer(
    blank_database_url: str, database: Database, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        service_name="rating-test",
        database_url=blank_database_url,
        var_dir=tmp_path,
        freeze_startup_objects=False,
    )
    app = build_app(settings, title="consumer", routers=[router])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://consumer") as client:
            yield client


async def invitations(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(select(RatingInvitation.case_id)))


def parsed(envelope: dict[str, Any]) -> CloudEvent[CaseCompleted]:
    return CloudEvent[CaseCompleted].model_validate(envelope)


async def test_the_first_receipt_of_an_event_is_new_and_a_redelivery_is_not(
    database: Database,
) -> None:
    event = parsed(case_completed())
    async with database.sessionmaker.begin() as session:
        assert await record_in_inbox(session, InboxEvent, event) is True
    async with database.sessionmaker.begin() as session:
        assert await record_in_inbox(session, InboxEvent, event) is False
        other = parsed(case_completed())
        assert await record_in_inbox(session, InboxEvent, other) is True


async def test_an_event_whose_processing_rolled_back_is_new_at_its_redelivery(
    database: Database,
) -> None:
    event = parsed(case_completed())
    async with database.sessionmaker() as session:
        assert await record_in_inbox(session, InboxEvent, event) is True
        await session.rollback()
    async with database.sessionmaker.begin() as session:
        assert await record_in_inbox(session, InboxEvent, event) is True


async def test_two_deliveries_of_one_event_at_the_same_time_are_processed_once(
    database: Database,
) -> None:
    event = parsed(case_completed())
    first_recorded = asyncio.Event()

    async def first() -> bool:
        async with database.sessionmaker.begin() as session:
            new = await record_in_inbox(session, InboxEvent, event)
            first_recorded.set()
            await asyncio.sleep(0.1)  # still processing when the second delivery comes
            session.add(RatingInvitation(case_id="case-1"))
            return new

    async def second() -> bool:
        await first_recorded.wait()
        async with database.sessionmaker.begin() as session:
            # Waits for the first transaction's row, then finds it taken.
            new = await record_in_inbox(session, InboxEvent, event)
            if new:
                session.add(RatingInvitation(case_id="case-1"))
            return new

    assert await asyncio.gather(first(), second()) == [True, False]
    assert await invitations(database) == ["case-1"]


async def test_an_endpoint_processes_an_event_once_and_answers_its_redelivery_2xx(
    consumer: httpx.AsyncClient, database: Database
) -> None:
    envelope = case_completed("case-7")
    headers = {"content-type": CLOUDEVENTS_JSON}

    for _ in range(3):
        response = await consumer.post("/ratings/v1/events", json=envelope, headers=headers)
        assert response.status_code == 204, response.text

    assert await invitations(database) == ["case-7"]
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(InboxEvent)) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"id": "not-a-uuid"}, "id"),
        ({"type": ""}, "type"),
        ({"source": None}, "source"),
        ({"time": "2026-11-26T10:00:00"}, "time"),  # a time without its zone
        ({"data": {"case": "case-1"}}, "data.case_id"),
    ],
)
async def test_a_malformed_cloudevent_is_refused_with_a_validation_problem(
    consumer: httpx.AsyncClient,
    database: Database,
    problem: Problem,
    changes: dict[str, Any],
    field: str,
) -> None:
    response = await consumer.post(
        "/ratings/v1/events",
        json=case_completed(**changes),
        headers={"content-type": CLOUDEVENTS_JSON},
    )

    body = problem(response, 422, "validation_failed")
    assert any(error["field"].endswith(field) for error in body["errors"]), body
    assert await invitations(database) == []


def test_a_cloudevent_keeps_its_extension_attributes() -> None:
    event = parsed(case_completed(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01"))
    assert event.model_extra == {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
