"""The tables of case-svc: cases with their state history and their materials, the per-region
daily case-number counters, and the idempotency keys of submissions."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.events import OutboxEventMixin
from servicekit.idempotency import IdempotencyRecordMixin
from servicekit.ids import new_id
from servicekit.sealing import SealedJSON, SealedText

#: The condition of a case that has not ended, as the partial index of open cases keeps it.
OPEN_STATUSES_CONDITION = "status NOT IN ('completed', 'denied', 'not_accepted', 'withdrawn')"


class Base(DeclarativeBase):
    metadata = new_metadata()


class Case(Base):
    """One application (办件). The item and department are copied at submission: the case keeps
    what was true when it was filed even if the catalog changes afterwards."""

    __tablename__ = "case"
    __table_args__ = (
        # "My cases" and "the department's queue", newest first, are keyset scans of these.
        Index("ix_case_applicant_newest", "applicant_id", "submitted_at", "id"),
        Index("ix_case_department_newest", "department_id", "submitted_at", "id"),
        # The department's work queue, most urgent first.
        Index("ix_case_department_due", "department_id", "due_at", "id"),
        # Intakes left undecided past their time, for deemed acceptance.
        Index("ix_case_intake_due", "status", "intake_due_at"),
        # Open cases past their promised time not yet reported overdue.
        Index("ix_case_overdue_watch", "overdue_at", "due_at"),
        # Supervision: a department's cases completed in a period, and its open ones (on
        # PostgreSQL both bytewise, COLLATE "C", with a bytewise copy of the filing index: the
        # migration 4c2d9e8a1f57 builds them so; the gateway merges rows in that order).
        Index("ix_case_department_completed", "department_id", "completed_at"),
        # The work queue of open cases, most urgent first, and its counts.
        Index(
            "ix_case_department_open_due",
            "department_id",
            "due_at",
            "id",
            sqlite_where=text(OPEN_STATUSES_CONDITION),
            postgresql_where=text(OPEN_STATUSES_CONDITION),
        ),
        Index(
            "ix_case_department_open",
            "department_id",
            sqlite_where=text(OPEN_STATUSES_CONDITION),
            postgresql_where=text(OPEN_STATUSES_CONDITION),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    item_code: Mapped[str] = mapped_column(String(64), index=True)
    item_name: Mapped[str] = mapped_column(String(200))
    item_version: Mapped[str] = mapped_column(String(32))
    processing_mode: Mapped[str] = mapped_column(String(16))
    #: The subject the case is for: the token's ``sub`` (the principal when a delegate acts).
    applicant_id: Mapped[str] = mapped_column(String(64))
    applicant_type: Mapped[str] = mapped_column(String(16))
    #: The delegate who filed it for the applicant, if any (kept beside the applicant).
    actor_id: Mapped[str | None] = mapped_column(String(64))
    applicant_region: Mapped[str] = mapped_column(String(12))
    department_id: Mapped[str] = mapped_column(String(64))
    department_name: Mapped[str] = mapped_column(String(200))
    #: The handling department's region (official code): the prefix of the case number.
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    #: The applicant's form: names, identity numbers, phones, addresses. Sealed at rest.
    form: Mapped[dict[str, Any]] = mapped_column(SealedJSON("case", "case.form"))
    status: Mapped[str] = mapped_column(String(24))
    #: Who decides it (the item's ``decision_approval`` when filed): ``single`` or
    #: ``second_person``.
    decision_approval: Mapped[str] = mapped_column(String(16), default="single")
    #: The electronic certificate its completion issues (the item's ``issues_certificate`` when
    #: filed), as the exchange's certificate library types it; None: none.
    issues_certificate: Mapped[str | None] = mapped_column(String(64))
    #: Whom that certificate is issued to, as the exchange names a subject: the applicant's
    #: verified identity when she filed (``{"id_number": ...}`` or ``{"credit_code": ...}``).
    #: Sealed; None for an item that issues none.
    certificate_holder: Mapped[dict[str, str] | None] = mapped_column(
        SealedJSON("case", "case.certificate_holder")
    )
    #: The staff member the case is claimed by, and since when they last acted on it (a claim
    #: left idle lapses).
    assignee_id: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The handler who reviewed it: they may not approve its decision as well.
    reviewer_id: Mapped[str | None] = mapped_column(String(64))
    #: Optimistic-concurrency version, the case's ETag; every transition increments it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The promised time (承诺时限): due, and when it turns yellow (80 % of it gone). Both move
    #: on by the working days the clock was paused.
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The statutory time of the decision (法定时限) in working days, and its due time once the
    #: case is accepted (it counts from acceptance).
    statutory_working_days: Mapped[int | None] = mapped_column(SmallInteger)
    statutory_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When an application still in intake counts as accepted (5 working days after it was
    #: received, or resubmitted with its supplement: Administrative Licensing Law art. 32).
    intake_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When the case was first found past its promised time (``case.overdue`` reported once).
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Since when the clock is paused (a supplement, a special procedure); None while it runs.
    clock_paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The working days its clock stood paused, every pause that ended so far: what the case
    #: took on the clock is the working days from filing to completion less these.
    paused_working_days: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    #: The due date runs into a year whose official holiday schedule is not yet published.
    due_at_provisional: Mapped[bool] = mapped_column(default=False)
    #: Where each form field's value came from, for a case filed from a draft application
    #: (``case_svc.drafts``): per field its source (the verified identity, a data resource
    #: read through the exchange with its call id, receipt and consent, or typed by the
    #: applicant). No values: those are in the sealed form; sealed too, since the exchange's
    #: receipts name the subject by keyed hash. None: filed without a draft.
    form_provenance: Mapped[dict[str, Any] | None] = mapped_column(
        SealedJSON("case", "case.form_provenance")
    )

    history: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", lazy="raise"
    )


class CaseEvent(Base):
    """One step of a case's state history: who moved it, from what, to what, when and why."""

    __tablename__ = "case_event"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"))
    seq: Mapped[int] = mapped_column(SmallInteger)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    #: Staff: the actor's staff number (工号), from their token; what the applicant is shown.
    actor_staff_no: Mapped[str | None] = mapped_column(String(24))
    #: The applicant a delegate acted for.
    acting_for: Mapped[str | None] = mapped_column(String(64))
    #: The deadline clock after this step: running, paused or stopped.
    clock: Mapped[str] = mapped_column(String(8), default="running")
    #: What the step carried besides its note: a supplement notice's materials and fields, the
    #: fields supplied, a new assignee. Names, never values: no personal data.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Free text a person wrote (a reason, a notice): sealed, as it may name anyone.
    note: Mapped[str | None] = mapped_column(SealedText("case", "case_event.note"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="history", lazy="raise")


class CaseMaterial(Base):
    """A file a case holds: its description here, its content sealed in the material store
    (``case_svc.materials.storage``) under ``storage_key``."""

    __tablename__ = "case_material"
    __table_args__ = (
        # A case's materials in the order they came.
        Index("ix_case_material_case", "case_id", "uploaded_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"))
    #: The material's name as the item lists it, or a label of the uploader's: sealed, as a
    #: label may name anyone.
    name: Mapped[str] = mapped_column(SealedText("case", "case_material.name"))
    #: What the content is, as its first bytes say (never as the upload declared it).
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the clear content, hex: its ETag, and checked whenever it is read back.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Where the store keeps it: made of the case's and the material's ids, nothing sent.
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    #: The account that uploaded it (the delegate, when one acted for the applicant), and the
    #: part they took in the case.
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploader_role: Mapped[str] = mapped_column(String(16))
    #: The applicant a delegate uploaded it for.
    acting_for: Mapped[str | None] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CaseCertificate(Base):
    """An electronic certificate a case holds as a material: read from the exchange's
    certificate registry (``case_svc.materials.certificates``) rather than uploaded. What it is,
    who issued it and its validity are kept as read; its number (personal data) and the ledger
    receipt of the read (it names the case and a hash of the holder) are sealed."""

    __tablename__ = "case_certificate"
    __table_args__ = (
        # A case's materials in the order they came, beside its uploads.
        Index("ix_case_certificate_case", "case_id", "uploaded_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"))
    certificate_type: Mapped[str] = mapped_column(String(64))
    certificate_name: Mapped[str] = mapped_column(String(64))
    certificate_number: Mapped[str] = mapped_column(
        SealedText("case", "case_certificate.certificate_number")
    )
    #: The issuing department's id, as the registry names it.
    issuing_department: Mapped[str] = mapped_column(String(128))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    #: None: valid for the long term.
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    #: The registry's status when it was read.
    certificate_status: Mapped[str] = mapped_column(String(16))
    #: The exchange's call and its ledger receipt, which anyone may verify at the exchange.
    call_id: Mapped[str] = mapped_column(String(64))
    receipt: Mapped[dict[str, Any]] = mapped_column(SealedJSON("case", "case_certificate.receipt"))
    #: The account that attached it (the delegate, when one acted for the applicant), and the
    #: part they took in the case.
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploader_role: Mapped[str] = mapped_column(String(16))
    #: The applicant a delegate attached it for.
    acting_for: Mapped[str | None] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CertificatePublication(Base):
    """The electronic certificate a completed case issued (the handler gave its number and
    validity as the result was delivered), and its publication to the exchange's certificate
    library, made by case-svc's publisher in the background (``case_svc.publications``).

    Written pending in the deliver step's transaction; a publisher claims it by its version
    (``attempt_at`` moved on: a lease that lapses if the publisher dies), calls the exchange,
    then records the answer by its version again. The number and the holder are sealed; the
    receipt too (it names the case and a hash of the holder)."""

    __tablename__ = "certificate_publication"
    __table_args__ = (
        # What is due for publishing, soonest first.
        Index("ix_certificate_publication_due", "status", "attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id"), unique=True)
    certificate_type: Mapped[str] = mapped_column(String(64))
    certificate_number: Mapped[str] = mapped_column(
        SealedText("case", "certificate_publication.certificate_number")
    )
    valid_from: Mapped[dt.date] = mapped_column(Date)
    #: None: valid without a time limit.
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    #: The department that decided the case and issued the certificate.
    issuing_department: Mapped[str] = mapped_column(String(64))
    #: The holder as the exchange names a subject (the case's ``certificate_holder``).
    holder: Mapped[dict[str, str]] = mapped_column(
        SealedJSON("case", "certificate_publication.holder")
    )
    #: pending | published | refused (the exchange refused it for good: ``refusal_code``).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: When a publisher may (next) take it: now, after a failed attempt's backoff, or after the
    #: lease of a publisher that took it.
    attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Why the last attempt failed, as the exchange's problem code or status said it.
    last_error: Mapped[str | None] = mapped_column(String(64))
    refusal_code: Mapped[str | None] = mapped_column(String(64))
    #: The exchange's call id and the ledger receipt of the publication.
    call_id: Mapped[str | None] = mapped_column(String(64))
    receipt: Mapped[dict[str, Any] | None] = mapped_column(
        SealedJSON("case", "certificate_publication.receipt")
    )
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Taken and answered at a version: of two publishers, one acts.
    version: Mapped[int] = mapped_column(Integer, default=1)


class Draft(Base):
    """A draft application (``case_svc.drafts``): an item's form being filled in by its
    applicant, partly by the platform (her verified identity; data resources read through the
    exchange with her consent to the draft), until she submits it and it becomes a case. It
    lives in the instance of its handling department's region, like the case it becomes, and
    no queue lists it."""

    __tablename__ = "draft"
    __table_args__ = (Index("ix_draft_applicant_newest", "applicant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    #: ``330300-D20261207-3f9a0c1b`` (servicekit.case_numbers): consents and exchange calls
    #: name it as the case they serve.
    draft_no: Mapped[str] = mapped_column(String(40), unique=True)
    item_code: Mapped[str] = mapped_column(String(64))
    item_name: Mapped[str] = mapped_column(String(200))
    item_version: Mapped[str] = mapped_column(String(32))
    applicant_id: Mapped[str] = mapped_column(String(64))
    applicant_type: Mapped[str] = mapped_column(String(16))
    applicant_region: Mapped[str] = mapped_column(String(12))
    department_id: Mapped[str] = mapped_column(String(64))
    department_name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(12))
    #: The values filled in so far, by the platform or by her. Sealed at rest, as a case's.
    form: Mapped[dict[str, Any]] = mapped_column(SealedJSON("case", "draft.form"))
    #: Per filled field, where its value came from (no values). Sealed: the exchange's
    #: receipts name the subject (by keyed hash), as a certificate material's receipt does.
    provenance: Mapped[dict[str, Any]] = mapped_column(SealedJSON("case", "draft.provenance"))
    #: ``open`` while she fills it in; ``submitted`` once it became the case ``case_no``.
    status: Mapped[str] = mapped_column(String(16))
    case_no: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseNumberCounter(Base):
    """The last sequence number given out per (region, local day); incremented by one upsert,
    so that concurrent submissions never share a number."""

    __tablename__ = "case_number_counter"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class OutboxEvent(OutboxEventMixin, Base):
    """The events case-svc reports (``case.submitted``, ``case.status_changed``,
    ``case.completed``, ``case.overdue``), each written with the change it reports."""

    __tablename__ = "outbox_event"


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    """A submission's ``Idempotency-Key`` and the answer given (the kit's record)."""

    __tablename__ = "idempotency_record"
    sealing_domain = "case"


class BundleApplication(Base):
    """A one-issue application (``case_svc.bundles``): a bundle filed once by its applicant,
    with a child case at each department it concerns, each in the instance of that
    department's region. It lives in the instance serving the applicant's region.

    ``draft`` while its children are draft applications she fills (a bundle draft); ``filing``
    until every child is filed (a retry with the same Idempotency-Key files the rest,
    the same cases again for those already filed); ``filed`` then, its progress read from its
    children; ``compensated`` when a child was refused and the children filed before it were
    withdrawn."""

    __tablename__ = "bundle_application"
    __table_args__ = (
        Index("ix_bundle_application_applicant_newest", "applicant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    application_no: Mapped[str] = mapped_column(String(40), unique=True)
    bundle_code: Mapped[str] = mapped_column(String(48))
    bundle_name: Mapped[str] = mapped_column(String(128))
    applicant_id: Mapped[str] = mapped_column(String(64))
    applicant_type: Mapped[str] = mapped_column(String(16))
    applicant_region: Mapped[str] = mapped_column(String(12))
    #: A keyed digest of (applicant, Idempotency-Key): a retry of a filing cut short finds it.
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: A keyed digest of the request's body: a retry must send the same application.
    request_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    #: The items the bundle's plan left out for her, and why: ``[{item_code, item_name,
    #: reason}]`` (no personal data).
    left_out: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    children: Mapped[list["BundleChild"]] = relationship(
        back_populates="application", order_by="BundleChild.seq", lazy="raise"
    )


class BundleChild(Base):
    """One item of a one-issue application: the department that handles it, and the case
    filed for it there once it is (its progress is that case's)."""

    __tablename__ = "bundle_child"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bundle_application.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    item_code: Mapped[str] = mapped_column(String(64))
    item_name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[str] = mapped_column(String(64))
    department_name: Mapped[str] = mapped_column(String(200))
    department_tier: Mapped[str] = mapped_column(String(16))
    department_region: Mapped[str] = mapped_column(String(12))
    #: Its draft application, in its department's instance, for an application that began as
    #: a bundle draft (``case_svc.bundles.drafting``): filled there, submitted there.
    draft_no: Mapped[str | None] = mapped_column(String(40))
    case_no: Mapped[str | None] = mapped_column(String(40))
    filed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Withdrawn to compensate for a later child's refusal.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[BundleApplication] = relationship(back_populates="children")
