"""The outbox's and the inbox's columns, as declarative mixins: each service maps them into a
table of its own metadata (and its own Alembic migration), under the kit's naming convention."""

import datetime as dt
import uuid
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from servicekit.db import UTCDateTime

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"

#: The longest ``type``, ``subject`` and subscriber path an outbox row holds.
MAX_TYPE_LENGTH = 128
MAX_SUBJECT_LENGTH = 200
MAX_SUBSCRIBER_LENGTH = 300

_IS_PENDING = text("status = 'pending'")


class OutboxEventMixin:
    """One event as addressed to one subscriber: ``emit`` writes a row per subscriber of the
    event's type, so that each subscriber's delivery has a state of its own (a subscriber that
    got the event is not sent it again because another one failed).

    A service maps it into its own metadata::

        class OutboxEvent(OutboxEventMixin, Base):
            __tablename__ = "outbox_event"
    """

    #: The order rows were written in; per (subscriber, subject) the relay delivers in it.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    #: The CloudEvent's ``id``: the same in the rows of every subscriber of one event.
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    event_type: Mapped[str] = mapped_column(String(MAX_TYPE_LENGTH))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT_LENGTH))
    #: The path the event is posted to, through the gateway: ``/ratings/v1/events``.
    subscriber: Mapped[str] = mapped_column(String(MAX_SUBSCRIBER_LENGTH))
    #: The CloudEvent in structured-mode JSON, posted as it is stored.
    envelope: Mapped[str] = mapped_column(Text())
    #: ``pending`` until ``delivered`` or ``dead`` (given up on, until someone redrives it).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer())
    emitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    dead_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Why the last attempt failed, as a short code (``http_503``, ``timeout``): never a body.
    last_error: Mapped[str | None] = mapped_column(String(64))

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        table = getattr(cls, "__tablename__", None)
        if not isinstance(table, str):
            raise TypeError(f"{cls.__name__} names its table: __tablename__ = 'outbox_event'")
        return (
            UniqueConstraint("event_id", "subscriber"),
            CheckConstraint(f"status IN ('{PENDING}', '{DELIVERED}', '{DEAD}')", name="status"),
            # The relay's scan: pending rows in emission order (partial, so it stays small).
            Index(
                f"ix_{table}_pending", "seq", postgresql_where=_IS_PENDING, sqlite_where=_IS_PENDING
            ),
            # "Is an earlier event of this subject still pending for this subscriber?"
            Index(
                f"ix_{table}_pending_subject",
                "subscriber",
                "subject",
                "seq",
                postgresql_where=_IS_PENDING,
                sqlite_where=_IS_PENDING,
            ),
            # The relay's purge of delivered rows past their retention, oldest first.
            Index(f"ix_{table}_emitted_at", "emitted_at"),
        )


class InboxEventMixin:
    """The id of an event a consumer has processed, written in the transaction that processed
    it (``record_in_inbox``): a redelivery finds it and is not processed again.

    A service maps it into its own metadata::

        class InboxEvent(InboxEventMixin, Base):
            __tablename__ = "inbox_event"
    """

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(MAX_TYPE_LENGTH))
    source: Mapped[str] = mapped_column(String(MAX_SUBSCRIBER_LENGTH))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
