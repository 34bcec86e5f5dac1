"""The tables of rating-svc: ratings, the rectifications bad reviews open, and the
idempotency keys of ratings."""

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, SmallInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.idempotency import IdempotencyRecordMixin
from servicekit.ids import new_id
from servicekit.sealing import SealedText


class Base(DeclarativeBase):
    metadata = new_metadata()


class Rating(Base):
    __tablename__ = "rating"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    #: One rating per case: the unique constraint is what refuses a second one under a race.
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    citizen_id: Mapped[str] = mapped_column(String(64), index=True)
    #: The delegate who rated for the citizen, if any (kept beside the citizen, never instead).
    actor_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    item_code: Mapped[str] = mapped_column(String(64), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    efficiency: Mapped[int] = mapped_column(SmallInteger)
    quality: Mapped[int] = mapped_column(SmallInteger)
    attitude: Mapped[int] = mapped_column(SmallInteger)
    #: Free text the citizen wrote, which may name her or anyone: sealed at rest.
    comment: Mapped[str | None] = mapped_column(SealedText("rating", "rating.comment"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rectification(Base):
    __tablename__ = "rectification"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating.id"), unique=True)
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    """A rating's ``Idempotency-Key`` and the answer given (the kit's record)."""

    __tablename__ = "idempotency_record"
    sealing_domain = "rating"
