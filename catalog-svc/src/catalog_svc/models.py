"""The tables of catalog-svc: regions, departments, service items, one-issue bundles, and which
reference data set they were last loaded from; and the administration of items: drafts, the
versions published, the audit trail and the idempotency keys of item creation; and each item's
live quality (ratings, working days taken), counted from other services' events.

Regions, departments, bundles and the items the files hold are reference data, written by the
seed from the files under ``data/``. Catalog administrators write drafts and publish them as new
versions of items (``maintained_by`` "administration"), which the seed then leaves alone.
"""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.events import InboxEventMixin
from servicekit.idempotency import IdempotencyRecordMixin
from servicekit.ids import new_id

#: JSON on SQLite, JSONB on PostgreSQL (binary, indexable when search grows into the database).
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = new_metadata()


class Region(Base):
    """A region of the tree, current or retired. ``code`` is the official form (6 digits down
    to the county, then 9 or 12), ``prefix`` the significant prefix (``3303`` for Wenzhou)."""

    __tablename__ = "region"
    __table_args__ = (
        CheckConstraint("status IN ('current', 'retired')", name="status"),
        CheckConstraint(
            "level IN ('province', 'city', 'county', 'township', 'village')", name="level"
        ),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(8))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    #: The current region that took a retired one over, where the records know it.
    successor_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))


class Department(Base):
    """A department of one region: id ``<official region code>-<type>``, e.g.
    ``330302-public_security``; one department of each type per region at most."""

    __tablename__ = "department"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(48), index=True)
    tier: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)


class ServiceItem(Base):
    """A service item (事项): what a citizen or enterprise can apply for, who handles it and
    what the application looks like."""

    __tablename__ = "service_item"
    __table_args__ = (
        CheckConstraint("min_loa BETWEEN 1 AND 3", name="min_loa"),
        CheckConstraint("subject IN ('person', 'enterprise')", name="subject"),
        CheckConstraint("processing_mode IN ('instant', 'review')", name="processing_mode"),
        CheckConstraint(
            "decision_approval = 'single' "
            "OR (decision_approval = 'second_person' AND processing_mode = 'review')",
            name="decision_approval",
        ),
        CheckConstraint(
            "issues_certificate IS NULL OR processing_mode = 'review'", name="issues_certificate"
        ),
        CheckConstraint("maintained_by IN ('seed', 'administration')", name="maintained_by"),
    )

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    aliases: Mapped[list[str]] = mapped_column(JsonDocument)
    keywords: Mapped[list[str]] = mapped_column(JsonDocument)
    department_type: Mapped[str] = mapped_column(String(48), index=True)
    handling_tier: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(16))
    topics: Mapped[list[str]] = mapped_column(JsonDocument)
    #: "0" (nothing to attend), "1" (at most one visit) or "on_site" (done at the counter).
    visits: Mapped[str] = mapped_column(String(8))
    processing_mode: Mapped[str] = mapped_column(String(8))
    #: Who decides a reviewed application: "single" (the handler who reviewed it) or
    #: "second_person" (a supervisor who did not review it approves the handler's decision:
    #: case-svc's workflow). An instant item is "single": there is no review to keep apart.
    decision_approval: Mapped[str] = mapped_column(
        String(16), default="single", server_default="single"
    )
    #: The type of electronic certificate a completed application issues (the certificate
    #: library's ``certificate_type``, e.g. "food_business_licence"): case-svc's deliver step
    #: then carries its number, and publishes it to the exchange. None: it issues none.
    issues_certificate: Mapped[str | None] = mapped_column(String(64))
    min_loa: Mapped[int] = mapped_column(SmallInteger)
    legal_working_days: Mapped[int | None] = mapped_column(Integer)
    promised_working_days: Mapped[int | None] = mapped_column(Integer)
    fee: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    form_schema: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    #: Official region codes the item is listed in (and below); empty: the whole province.
    offered_in: Mapped[list[str]] = mapped_column(JsonDocument)
    #: Which of the item's fields hold figures nobody has checked against an official source.
    illustrative: Mapped[list[str]] = mapped_column(JsonDocument)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    #: Legal basis and remarks, for people reading the item.
    notes: Mapped[str | None] = mapped_column(Text)
    #: When the seed or a publication last changed the item (the change feed's order); None
    #: only for rows loaded before the feed existed, until the next seed stamps them.
    changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    #: Who keeps the item: "seed" (the files: the seed writes and withdraws it) or
    #: "administration" (published or withdrawn through the administration API since: the
    #: seed leaves it alone, so that a new seed never undoes an administrator's publication).
    maintained_by: Mapped[str] = mapped_column(String(16), default="seed", server_default="seed")


class ServiceItemDraft(Base):
    """The draft of an item's next version: at most one per item, edited by its catalog
    administrators, approved by a second one where a change needs it, and invisible to the
    public reads until published."""

    __tablename__ = "service_item_draft"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The published version the draft was opened from; None for an item never published.
    based_on_version: Mapped[int | None] = mapped_column(Integer)
    #: Counts the draft's edits from 1; with the item code and based_on_version, its ETag.
    revision: Mapped[int] = mapped_column(Integer)
    #: The item as edited (the administration API's item document: every field but the code).
    content: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_by_dept: Mapped[str | None] = mapped_column(String(64))
    #: The second administrator who approved the draft's changes that need one (assurance
    #: level, handling tier, fee, decision approval), and when; None until then. An edit
    #: withdraws the approval: it is of the revision its approver read.
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_by_dept: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ServiceItemVersion(Base):
    """A version of an item as it was published: each publication through the administration
    API, and the seed's version it replaced."""

    __tablename__ = "service_item_version"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The administrator who published it; None for a version the seed loaded from the files.
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_by_dept: Mapped[str | None] = mapped_column(String(64))


class ItemAuditEntry(Base):
    """One administrative act on an item: who (subject and department), when, what, on which
    version, and what it changed (field → before and after)."""

    __tablename__ = "item_audit_entry"
    __table_args__ = (
        CheckConstraint(
            "action IN ('created', 'draft_opened', 'edited', 'approved', 'published', 'withdrawn')",
            name="action",
        ),
    )

    #: UUIDv7: time-ordered, so the trail reads in order of the id.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    item_code: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    actor_dept: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Field → {"from": before, "to": after}, for the fields the act changed.
    changes: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    """An item creation's ``Idempotency-Key`` and the answer given (the kit's record)."""

    __tablename__ = "idempotency_record"
    sealing_domain = "catalog"


class Bundle(Base):
    """A one-issue bundle (一件事): items applied for together, with one merged form."""

    __tablename__ = "bundle"
    __table_args__ = (CheckConstraint("subject IN ('person', 'enterprise')", name="subject"),)

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(16))
    #: The items' codes, in the order the bundle handles them; empty while only named.
    item_codes: Mapped[list[str]] = mapped_column(JsonDocument)
    form_schema: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    #: Form field → the item codes it feeds.
    field_sources: Mapped[dict[str, list[str]]] = mapped_column(JsonDocument)
    #: Item code → the condition over the merged form's answers under which the item applies
    #: (``reference.conditions``); an item without one always applies.
    item_conditions: Mapped[dict[str, dict[str, Any]]] = mapped_column(
        JsonDocument, default=dict, server_default=text("'{}'")
    )
    #: Whether the bundle's make-up was assembled rather than copied from an official list.
    illustrative: Mapped[bool] = mapped_column(Boolean)


class ReferenceDataset(Base):
    """The fingerprint of the reference data last loaded (``catalog``): the seed skips an
    identical load. The row ``published_items`` holds a token that every publication and
    withdrawal through the administration API replaces: the snapshots of other processes
    notice it and reload the items."""

    __tablename__ = "reference_dataset"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ItemQuality(Base):
    """How an item is served by one department, kept current by events (``catalog_svc.quality``):
    its first ratings (a follow-up rating after a rectification is not counted) and how many of
    them were satisfied (levels 5, 4, 3) or bad reviews (2, 1), an upheld appeal's review taken
    out again; and its completed cases. Counts only, never who rated or applied.
    ``changed_at`` moves with every change, here or in the row's working days: the processes'
    in-memory boards read what changed since they last looked."""

    __tablename__ = "item_quality"

    item_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    bad_reviews: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class ItemWorkingDays(Base):
    """How many of a department's completed cases of an item took so many working days on the
    clock: the histogram its median is read from."""

    __tablename__ = "item_working_days"

    item_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    working_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class InboxEvent(InboxEventMixin, Base):
    """The events catalog-svc processed (``case.completed``, ``rating.created``,
    ``appeal.decided``): a redelivery is not counted again."""

    __tablename__ = "inbox_event"
