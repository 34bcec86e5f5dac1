"""The producer's side: ``Outbox.emit`` writes an event in the caller's transaction, and the
operator's ``redrive`` puts dead-lettered events back to pending."""

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, event, insert, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from servicekit.db import utcnow
from servicekit.events._envelope import refuse_personal_data, structured_envelope
from servicekit.events._tables import (
    DEAD,
    MAX_SUBJECT_LENGTH,
    MAX_SUBSCRIBER_LENGTH,
    MAX_TYPE_LENGTH,
    PENDING,
    OutboxEventMixin,
)
from servicekit.ids import new_id

#: Event type → the paths, through the gateway, its events are posted to.
Subscriptions = Mapping[str, Sequence[str]]

#: Where a session keeps the outboxes it wrote to until it commits (``Session.info``).
_EMITTED = "servicekit.events.emitted"


class UnknownEventType(ValueError):
    """The type is not in the outbox's subscriptions: declare it, with no subscriber if none
    wants it yet, so that a misspelt type is caught where it is written."""


@dataclass(frozen=True, slots=True)
class Emission:
    """One event for ``Outbox.emit_all``: what ``emit`` takes as arguments."""

    type: str
    subject: str
    data: Mapping[str, Any]
    #: When it happened; the moment it is written when None.
    time: dt.datetime | None = None
    #: Addressed rather than subscribed: subscriber → what ``data`` holds for it, instead of
    #: ``data`` for the subscribers of the type. For subscribers the service keeps itself
    #: (a department's subscription: its id), each told its own part; all share the event's id.
    to: Mapping[str, Mapping[str, Any]] | None = None


class _Waker(Protocol):
    def wake(self) -> None: ...


class Outbox:
    """A service's outbox: its table, its CloudEvents ``source`` and who subscribes to what.

    ``subscriptions`` is data: every type the service emits, each with the paths (through the
    gateway) its events are posted to, e.g. ``{"case.completed": ["/ratings/v1/events"]}``.
    """

    def __init__(
        self,
        model: type[OutboxEventMixin],
        *,
        source: str,
        subscriptions: Subscriptions,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        for event_type, paths in subscriptions.items():
            if not 0 < len(event_type) <= MAX_TYPE_LENGTH:
                raise ValueError(f"an event type has 1 to {MAX_TYPE_LENGTH} characters")
            for path in paths:
                if not path.startswith("/") or len(path) > MAX_SUBSCRIBER_LENGTH:
                    raise ValueError(
                        f"{event_type}: a subscriber is a path, like /ratings/v1/events"
                    )
        self.model = model
        # A Core insert of the table, built once: an event is rows to write, not objects for the
        # ORM to track, and every emission would otherwise build and key the statement anew.
        self._insert = insert(sa_inspect(model).local_table)
        self.source = source
        self.subscriptions: dict[str, tuple[str, ...]] = {
            event_type: tuple(dict.fromkeys(paths)) for event_type, paths in subscriptions.items()
        }
        self.clock = clock
        self._relays: set[_Waker] = set()

    async def emit(
        self,
        session: AsyncSession,
        *,
        type: str,
        subject: str,
        data: Mapping[str, Any],
        time: dt.datetime | None = None,
    ) -> uuid.UUID:
        """Write one event, to be delivered to each subscriber of its ``type``, in the caller's
        transaction (this never commits): the event exists if and only if the state change it
        reports is committed. Returns the event's id (UUIDv7).

        ``subject`` is the id of the thing the event is about (a case id): the relay delivers
        the events of one subject in the order they were emitted. ``data`` holds ids only,
        never personal data (names, identity numbers, phones, addresses): a consumer that needs
        more asks the owner with its own authority. Fields named like personal data and
        identity numbers are refused with ``PersonalDataInEvent``.
        """
        (event_id,) = await self.emit_all(session, [Emission(type, subject, data, time)])
        return event_id

    async def emit_all(
        self, session: AsyncSession, emissions: Sequence["Emission"]
    ) -> list[uuid.UUID]:
        """Write several events as ``emit`` writes one, in the order given (the order the
        relay keeps per subject), with one insert for all their rows: a change that reports
        two things at once (a case filed and completed) pays for one statement. Their ids.

        An emission ``to`` named subscribers is written for them alone, each with its own data
        (its type declared all the same, with no subscriber if none is fixed)."""
        now = self.clock()
        ids: list[uuid.UUID] = []
        rows: list[dict[str, Any]] = []
        for emission in emissions:
            subscribers = self.subscriptions.get(emission.type)
            if subscribers is None:
                raise UnknownEventType(f"{emission.type!r} is not in this outbox's subscriptions")
            if not 0 < len(emission.subject) <= MAX_SUBJECT_LENGTH:
                raise ValueError(f"a subject has 1 to {MAX_SUBJECT_LENGTH} characters")
            if emission.to is None:
                refuse_personal_data(emission.data)
                addressed = dict.fromkeys(subscribers, emission.data)
            else:
                addressed = dict(emission.to)
                for subscriber, data in addressed.items():
                    if not 0 < len(subscriber) <= MAX_SUBSCRIBER_LENGTH:
                        raise ValueError(f"a subscriber has 1 to {MAX_SUBSCRIBER_LENGTH} chars")
                    refuse_personal_data(data)
            event_id = new_id()
            ids.append(event_id)
            envelopes: dict[int, str] = {}
            for subscriber, data in addressed.items():
                # Subscribed: one envelope for all; addressed: one for each part.
                envelope = envelopes.get(id(data))
                if envelope is None:
                    envelope = envelopes[id(data)] = structured_envelope(
                        event_id=event_id,
                        source=self.source,
                        type=emission.type,
                        subject=emission.subject,
                        time=emission.time or now,
                        data=data,
                    )
                rows.append(
                    {
                        "event_id": event_id,
                        "event_type": emission.type,
                        "subject": emission.subject,
                        "subscriber": subscriber,
                        "envelope": envelope,
                        "status": PENDING,
                        "attempts": 0,
                        "emitted_at": now,
                        "next_attempt_at": now,
                    }
                )
        if rows:
            await session.execute(self._insert, rows)
            session.info.setdefault(_EMITTED, set()).add(self)
        return ids

    def _committed(self) -> None:
        for relay in self._relays:
            relay.wake()


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    """A relay in this process starts on what was just committed instead of at its next poll."""
    outboxes: set[Outbox] | None = session.info.pop(_EMITTED, None)
    for outbox in outboxes or ():
        outbox._committed()


@event.listens_for(Session, "after_rollback")
def _forget_emitted(session: Session) -> None:
    session.info.pop(_EMITTED, None)


async def redrive(
    session: AsyncSession,
    model: type[OutboxEventMixin],
    *,
    event_type: str | None = None,
    event_id: uuid.UUID | None = None,
    subscriber: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Put dead-lettered deliveries back to pending, with fresh attempts, in the caller's
    transaction: all of them, or those of a type, an event or a subscriber. Returns how many.

    A redriven event comes after the later events of its subject that were delivered while it
    was dead: order per subject holds among the events that are alive.
    """
    statement = (
        update(model)
        .where(model.status == DEAD)
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=now or utcnow(),
            dead_at=None,
            last_error=None,
        )
    )
    if event_type is not None:
        statement = statement.where(model.event_type == event_type)
    if event_id is not None:
        statement = statement.where(model.event_id == event_id)
    if subscriber is not None:
        statement = statement.where(model.subscriber == subscriber)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount
