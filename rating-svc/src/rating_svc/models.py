"""The tables of rating-svc: ratings, the invitations to rate that completed cases bring, the
rectifications bad reviews open and their history, the events it emits (its outbox) and the ids
of those it processed (its inbox), and the idempotency keys of ratings."""

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.events import InboxEventMixin, OutboxEventMixin
from servicekit.idempotency import IdempotencyRecordMixin
from servicekit.ids import new_id
from servicekit.sealing import SealedJSON, SealedText

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
    #: The rectification a follow-up invitation asks to rate.
    rectification_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rectification.id"))


class Rectification(Base):
    """What a bad review opens: the handling department calls the citizen back and rectifies
    (each step due in working days, escalated to the tier above once when left past its time),
    then the citizen's follow-up rating closes it (``rules/rectification.toml``)."""

    __tablename__ = "rectification"
    __table_args__ = (
        # The watch's scans: open steps by their deadline.
        Index("ix_rectification_status_call_back_due_at", "status", "call_back_due_at"),
        Index("ix_rectification_status_rectification_due_at", "status", "rectification_due_at"),
        # A department's queue, oldest first.
        Index("ix_rectification_queue", "department_id", "opened_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating.id"), unique=True)
    #: The handling department: it owes the call-back and the rectification.
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    case_no: Mapped[str] = mapped_column(String(40))
    item_code: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12))
    applicant_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24))
    #: Every change takes the next version, at the version it read: of two changes at once
    #: (a step, the watch's escalation) one wins; it numbers the history too.
    version: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    call_back_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    rectification_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Some day counted lies in a year whose official holiday schedule is not yet published.
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The call-back as the department recorded it: when it took place, how, what was said.
    called_back_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    call_back_channel: Mapped[str | None] = mapped_column(String(16))
    call_back_note: Mapped[str | None] = mapped_column(
        SealedText("rating", "rectification.call_back_note")
    )
    call_back_recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The rectification as reported: what was changed, and when it was reported.
    rectification_note: Mapped[str | None] = mapped_column(
        SealedText("rating", "rectification.rectification_note")
    )
    rectified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The end of the citizen's time to rate the rectification; after it, it closes unrated.
    follow_up_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When each step was found past its time (once) and the tier above was told.
    call_back_overdue_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rectification_overdue_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The department of the tier above whose supervisors an overdue step was escalated to.
    escalated_to_department_id: Mapped[str | None] = mapped_column(String(64), index=True)
    follow_up_rating_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rating.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RectificationEvent(Base):
    """One entry of a rectification's history: who did what, in which role, when, with what
    note (sealed: a call-back's note says what a citizen said)."""

    __tablename__ = "rectification_event"
    __table_args__ = (
        UniqueConstraint("rectification_id", "seq", name="uq_rectification_event_seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rectification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rectification.id"))
    seq: Mapped[int] = mapped_column(Integer)
    #: opened, call_back, rectify, follow_up, follow_up_lapsed, call_back_overdue,
    #: rectification_overdue
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[str] = mapped_column(String(64))
    #: handler, supervisor, applicant, system
    actor_role: Mapped[str] = mapped_column(String(16))
    #: The applicant a delegate acted for.
    acting_for: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(SealedText("rating", "rectification_event.note"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Appeal(Base):
    """A department's appeal (申诉) of a review of its own case as mistaken or malicious, with
    its reasons and evidence, decided by the supervisors of the tier above: upheld, the review
    leaves the published figures (``Rating.excluded_at``); rejected, it stands. One per
    review."""

    __tablename__ = "appeal"
    __table_args__ = (
        # A deciding department's queue and a filing department's list, oldest first.
        Index("ix_appeal_decider_status", "decider_department_id", "status", "filed_at"),
        Index("ix_appeal_department_status", "department_id", "status", "filed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating.id"), unique=True)
    #: The department whose case was reviewed, which appeals.
    department_id: Mapped[str] = mapped_column(String(64))
    #: The department of the tier above whose supervisors decide.
    decider_department_id: Mapped[str] = mapped_column(String(64))
    case_no: Mapped[str] = mapped_column(String(40))
    item_code: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12))
    #: mistaken, malicious
    grounds: Mapped[str] = mapped_column(String(16))
    #: Why the department holds the review mistaken or malicious: may name the citizen, sealed.
    reasons: Mapped[str] = mapped_column(SealedText("rating", "appeal.reasons"))
    #: The evidence, each a reference to a record the department keeps (a recording's, a
    #: document's number) or a short text: sealed.
    evidence: Mapped[list[str]] = mapped_column(SealedJSON("rating", "appeal.evidence"))
    filed_by: Mapped[str] = mapped_column(String(64))
    #: handler, supervisor
    filed_by_role: Mapped[str] = mapped_column(String(16))
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The end of the time to appeal the review (working days from it), as it stood.
    appeal_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: pending, upheld, rejected
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(SealedText("rating", "appeal.decision_note"))


class RatingRollup(Base):
    """The published figures, kept incrementally: one row per period (a day or a month, Asia/
    Shanghai), dimension and key, moved by every change that moves them in that change's
    transaction (an upsert, safe under concurrent writers). Rectification and follow-up counts
    belong to the period of the bad review that opened them. No personal data: counts only.

    Dimensions: ``department`` (key a department), ``item`` (an item code), ``region`` (a region
    code, each level of the tree up from the case's region); ``department_in_region`` (key a
    department, ``scope`` a region of that tree) ranks departments within a region."""

    __tablename__ = "rating_rollup"

    dimension: Mapped[str] = mapped_column(String(24), primary_key=True)
    #: The region a ``department_in_region`` row counts within; empty for the others.
    scope: Mapped[str] = mapped_column(String(12), primary_key=True)
    #: day, month. Before the key in the primary key: a ranking reads the month rows of every
    #: key under a scope, not their day rows too.
    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    level_5: Mapped[int] = mapped_column(Integer, default=0)
    level_4: Mapped[int] = mapped_column(Integer, default=0)
    level_3: Mapped[int] = mapped_column(Integer, default=0)
    level_2: Mapped[int] = mapped_column(Integer, default=0)
    level_1: Mapped[int] = mapped_column(Integer, default=0)
    bad_reviews: Mapped[int] = mapped_column(Integer, default=0)
    rectifications_opened: Mapped[int] = mapped_column(Integer, default=0)
    rectifications_closed: Mapped[int] = mapped_column(Integer, default=0)
    rectifications_on_time: Mapped[int] = mapped_column(Integer, default=0)
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)
    follow_ups_satisfied: Mapped[int] = mapped_column(Integer, default=0)


class OutboxEvent(OutboxEventMixin, Base):
    """The events rating-svc emits (``rating_svc.events``), each per subscriber, until
    delivered."""

    __tablename__ = "outbox_event"


class InboxEvent(InboxEventMixin, Base):
    """The events rating-svc processed (``case.completed``): a redelivery is not processed
    again."""

    __tablename__ = "inbox_event"


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    """A rating's ``Idempotency-Key`` and the answer given (the kit's record)."""

    __tablename__ = "idempotency_record"
    sealing_domain = "rating"
