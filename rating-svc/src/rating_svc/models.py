"""The tables of rating-svc: ratings, the invitations to rate that completed cases bring, the
rectifications bad reviews open, the ids of the events it processed (its inbox), and the
idempotency keys of ratings."""

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.events import InboxEventMixin
from servicekit.idempotency import IdempotencyRecordMixin
from servicekit.ids import new_id
from servicekit.sealing import SealedText

#: The rating of a served case, and the rating of how its bad review was rectified.
CASE = "case"
FOLLOW_UP = "follow_up"


class Base(DeclarativeBase):
    metadata = new_metadata()


class Rating(Base):
    """One review: of a served case (``kind = case``), once per case, or of the rectification
    its bad review opened (``kind = follow_up``), once per case as well."""

    __tablename__ = "rating"
    #: The unique constraint is what refuses a second rating of a case under a race.
    __table_args__ = (UniqueConstraint("case_no", "kind", name="uq_rating_case_no_kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_no: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default=CASE)
    #: The applicant the case was filed for (a citizen's or an enterprise's account).
    applicant_id: Mapped[str] = mapped_column(String(64), index=True)
    applicant_type: Mapped[str] = mapped_column(String(16))
    #: The delegate (or an enterprise's representative) who rated for the applicant, if any:
    #: kept beside the applicant, never instead.
    actor_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    item_code: Mapped[str] = mapped_column(String(64), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    #: 5 very satisfied … 1 very dissatisfied (``rules/levels.toml``).
    level: Mapped[int] = mapped_column(SmallInteger)
    #: Whether the level was a bad review when it was given (the table may change later).
    bad_review: Mapped[bool] = mapped_column(Boolean)
    efficiency: Mapped[int | None] = mapped_column(SmallInteger)
    quality: Mapped[int | None] = mapped_column(SmallInteger)
    attitude: Mapped[int | None] = mapped_column(SmallInteger)
    #: Codes from the level's list of tags.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Free text the citizen wrote, which may name her or anyone: sealed at rest, never logged.
    comment: Mapped[str | None] = mapped_column(SealedText("rating", "rating.comment"))
    #: Where it was given: app, web, sms, counter_device.
    channel: Mapped[str] = mapped_column(String(16))
    #: When the case was completed (case-svc's word), from which the rating window ran.
    case_completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Set when the review no longer counts in published figures (an upheld appeal): the
    #: rating itself is kept, for audit.
    excluded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(Base):
    """What the app lists as "to rate": a completed case of the applicant's (from case-svc's
    ``case.completed``), or a rectified bad review to rate again; answered by one rating."""

    __tablename__ = "invitation"
    __table_args__ = (
        UniqueConstraint("case_no", "kind", name="uq_invitation_case_no_kind"),
        # The applicant's list, newest first.
        Index("ix_invitation_applicant_list", "applicant_id", "invited_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_no: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default=CASE)
    applicant_id: Mapped[str] = mapped_column(String(64))
    applicant_type: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[str] = mapped_column(String(64))
    item_code: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12))
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The end of the rating window: after it the invitation is no longer listed.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The rating that answered it; none while it is to rate.
    rating_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rating.id"))
    #: The event it came from (``case.completed``), if any.
    event_id: Mapped[uuid.UUID | None] = mapped_column()


class Rectification(Base):
    __tablename__ = "rectification"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating.id"), unique=True)
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboxEvent(InboxEventMixin, Base):
    """The events rating-svc processed (``case.completed``): a redelivery is not processed
    again."""

    __tablename__ = "inbox_event"


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    """A rating's ``Idempotency-Key`` and the answer given (the kit's record)."""

    __tablename__ = "idempotency_record"
    sealing_domain = "rating"
