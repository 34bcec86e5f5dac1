"""The producer's outbox: an event is written in the caller's transaction, as a CloudEvent
with ids only, once for each subscriber of its type."""

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pydantic_settings import SettingsConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import Database, new_metadata
from servicekit.events import (
    PENDING,
    CloudEvent,
    Emission,
    InboxEventMixin,
    Outbox,
    OutboxEventMixin,
    OutboxSettings,
    PersonalDataInEvent,
    UnknownEventType,
)
from servicekit.settings import ServiceSettings


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxEvent(OutboxEventMixin, Base):
    __tablename__ = "outbox_event"


class InboxEvent(InboxEventMixin, Base):
    __tablename__ = "inbox_event"


NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
SUBSCRIPTIONS = {
    "case.completed": ["/ratings/v1/events", "/cases/v1/citizen-inbox/events"],
    "case.submitted": ["/ratings/v1/events"],
    "case.overdue": [],
}


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(OutboxEvent, source="/cases", subscriptions=SUBSCRIPTIONS, clock=lambda: NOW)


@pytest_asyncio.fixture
async def database(blank_database_url: str) -> AsyncIterator[Database]:
    database = Database(blank_database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


async def outbox_rows(database: Database) -> list[OutboxEvent]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


async def test_an_event_is_written_in_the_callers_transaction_and_only_if_it_commits(
    database: Database, outbox: Outbox
) -> None:
    async with database.sessionmaker() as session:
        await outbox.emit(session, type="case.submitted", subject="case-1", data={"case_id": "1"})
        # Not committed: nobody else sees it yet.
        assert await outbox_rows(database) == []
        await session.rollback()
    assert await outbox_rows(database) == []

    async with database.sessionmaker() as session:
        event_id = await outbox.emit(
            session, type="case.submitted", subject="case-1", data={"case_id": "1"}
        )
        await session.commit()
    [row] = await outbox_rows(database)
    assert row.event_id == event_id
    assert (row.status, row.attempts, row.last_error) == (PENDING, 0, None)


async def test_an_event_is_a_structured_cloudevent_with_a_uuid7_id(
    database: Database, outbox: Outbox
) -> None:
    case_id = uuid.uuid4()
    async with database.sessionmaker.begin() as session:
        event_id = await outbox.emit(
            session, type="case.submitted", subject=str(case_id), data={"case_id": case_id}
        )
    [row] = await outbox_rows(database)
    envelope = json.loads(row.envelope)
    assert envelope == {
        "specversion": "1.0",
        "id": str(event_id),
        "source": "/cases",
        "type": "case.submitted",
        "subject": str(case_id),
        "time": "2026-11-26T02:00:00Z",
        "datacontenttype": "application/json",
        "data": {"case_id": str(case_id)},
    }
    assert event_id.version == 7
    parsed = CloudEvent[dict[str, Any]].model_validate_json(row.envelope)
    assert (parsed.id, parsed.time) == (event_id, NOW)


async def test_an_event_is_addressed_once_to_each_subscriber_of_its_type(
    database: Database, outbox: Outbox
) -> None:
    async with database.sessionmaker.begin() as session:
        event_id = await outbox.emit(
            session, type="case.completed", subject="case-1", data={"case_id": "1"}
        )
    rows = await outbox_rows(database)
    assert [row.subscriber for row in rows] == SUBSCRIPTIONS["case.completed"]
    assert {row.event_id for row in rows} == {event_id}
    assert len({row.envelope for row in rows}) == 1


async def test_an_event_type_the_outbox_does_not_declare_is_refused(
    database: Database, outbox: Outbox
) -> None:
    async with database.sessionmaker.begin() as session:
        with pytest.raises(UnknownEventType):
            await outbox.emit(session, type="case.submited", subject="case-1", data={})


async def test_an_event_type_declared_without_subscribers_writes_nothing(
    database: Database, outbox: Outbox
) -> None:
    async with database.sessionmaker.begin() as session:
        await outbox.emit(session, type="case.overdue", subject="case-1", data={"case_id": "1"})
    assert await outbox_rows(database) == []


@pytest.mark.parametrize(
    "data",
    [
        {"case_id": "1", "name": "张三"},
        {"case_id": "1", "applicant": {"Phone": "13800000000"}},
        {"case_id": "1", "people": [{"id_number": "x"}]},
        {"case_id": "1", "reference": "330302195203140248"},
    ],
)
async def test_personal_data_in_an_event_is_refused(
    database: Database, outbox: Outbox, data: dict[str, Any]
) -> None:
    async with database.sessionmaker.begin() as session:
        with pytest.raises(PersonalDataInEvent) as refused:
            await outbox.emit(session, type="case.submitted", subject="case-1", data=data)
    # The refusal says where, never what.
    assert "张三" not in str(refused.value)
    assert "330302195203140248" not in str(refused.value)


async def test_ids_and_codes_are_not_taken_for_personal_data(
    database: Database, outbox: Outbox
) -> None:
    data = {
        "case_id": str(uuid.uuid4()),
        "case_no": "330302-20261126-000123",
        "region_code": "330302026003",
        "department_id": "dept-330302-ps",
    }
    async with database.sessionmaker.begin() as session:
        await outbox.emit(session, type="case.submitted", subject="case-1", data=data)
    assert len(await outbox_rows(database)) == 1


async def test_outbox_times_are_timezone_aware_utc(database: Database, outbox: Outbox) -> None:
    async with database.sessionmaker.begin() as session:
        await outbox.emit(session, type="case.submitted", subject="case-1", data={})
    [row] = await outbox_rows(database)
    assert row.emitted_at == row.next_attempt_at == NOW
    assert row.emitted_at.utcoffset() == dt.timedelta(0)


async def test_events_of_one_subject_are_numbered_in_the_order_they_were_emitted(
    database: Database, outbox: Outbox
) -> None:
    async with database.sessionmaker.begin() as session:
        for step in range(5):
            await outbox.emit(session, type="case.submitted", subject="case-1", data={"step": step})
    rows = await outbox_rows(database)
    assert [json.loads(row.envelope)["data"]["step"] for row in rows] == list(range(5))
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 5


def test_the_tables_follow_the_kit_naming_convention() -> None:
    outbox_table = OutboxEvent.__table__
    names = {constraint.name for constraint in outbox_table.constraints}
    assert names == {"pk_outbox_event", "uq_outbox_event_event_id", "ck_outbox_event_status"}
    assert {index.name for index in outbox_table.indexes} == {
        "ix_outbox_event_pending",
        "ix_outbox_event_pending_subject",
        "ix_outbox_event_emitted_at",
    }
    assert {constraint.name for constraint in InboxEvent.__table__.constraints} == {
        "pk_inbox_event"
    }


@pytest.mark.parametrize(
    "subscriptions",
    [{"case.completed": ["ratings/v1/events"]}, {"": ["/ratings/v1/events"]}],
)
def test_subscriptions_name_types_and_paths(subscriptions: dict[str, list[str]]) -> None:
    with pytest.raises(ValueError, match=r"subscriber is a path|event type"):
        Outbox(OutboxEvent, source="/cases", subscriptions=subscriptions)


def test_a_service_reads_the_relay_policy_from_its_own_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class ProducerSettings(ServiceSettings, OutboxSettings):
        model_config = SettingsConfigDict(env_prefix="PRODUCER_", extra="ignore", frozen=True)

    monkeypatch.setenv("PRODUCER_OUTBOX_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("PRODUCER_OUTBOX_RETENTION_DAYS", "0")
    monkeypatch.setenv("PRODUCER_OUTBOX_RELAY_ENABLED", "false")
    policy = ProducerSettings().relay_policy()
    assert policy.enabled is False
    assert policy.max_attempts == 3
    assert policy.retention_seconds is None
    assert policy.batch_size == 100


async def test_several_events_are_written_in_the_order_given_or_none_of_them(
    database: Database, outbox: Outbox
) -> None:
    submitted = Emission("case.submitted", "case-1", {"case_id": "1"})
    completed = Emission("case.completed", "case-1", {"case_id": "1"})
    async with database.sessionmaker.begin() as session:
        with pytest.raises(UnknownEventType):
            await outbox.emit_all(session, [submitted, Emission("case.lost", "case-1", {})])
    assert await outbox_rows(database) == []

    async with database.sessionmaker.begin() as session:
        first, then = await outbox.emit_all(session, [submitted, completed])

    rows = await outbox_rows(database)
    assert [(row.event_id, row.event_type, row.subscriber) for row in rows] == [
        (first, "case.submitted", "/ratings/v1/events"),
        (then, "case.completed", "/ratings/v1/events"),
        (then, "case.completed", "/cases/v1/citizen-inbox/events"),
    ]
