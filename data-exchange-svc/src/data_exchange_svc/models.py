"""The tables of data-exchange-svc: published data resources and their fields, sharing grants,
the hosted population registry and the other hosted datasets, and the append-only access
ledger."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.events import OutboxEventMixin
from servicekit.idempotency import IdempotencyRecordMixin
from servicekit.ids import new_id
from servicekit.sealing import SealedBytes, SealedDate, SealedForRow, SealedJSON, SealedText


class Base(DeclarativeBase):
    metadata = new_metadata()


class DataResource(Base):
    """A resource a department publishes for sharing (政务数据资源目录 entry)."""

    __tablename__ = "data_resource"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    owner_department_type: Mapped[str] = mapped_column(String(64))
    #: unconditional | conditional | not_shared
    classification: Mapped[str] = mapped_column(String(16))
    #: hosted (records loaded into the exchange) | remote (the provider's endpoint answers)
    hosting: Mapped[str] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(Text)
    #: Whom its records are about: ["person"] (an identity number names the subject),
    #: ["enterprise"] (a unified social credit code), or both.
    subject_kinds: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["person"], server_default='["person"]'
    )
    #: one | many: how many rows one subject has (many: a call answers each field with a list).
    rows_per_subject: Mapped[str] = mapped_column(String(8), default="one", server_default="one")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    fields: Mapped[list["ResourceField"]] = relationship(
        lazy="raise", order_by="ResourceField.position"
    )


class ResourceField(Base):
    __tablename__ = "resource_field"

    resource_code: Mapped[str] = mapped_column(ForeignKey("data_resource.code"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(128))
    #: general | personal | sensitive_personal
    sensitivity: Mapped[str] = mapped_column(String(32))
    #: Whether a match (verify-without-sharing) may compare a claimed value with this field.
    matchable: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(SmallInteger)
    #: The value's type (see resources/values.py); a predicate type answers only matches.
    value_type: Mapped[str] = mapped_column(String(32), default="text", server_default="text")
    #: The allowed values of a choice (or the relations of household members); else None.
    choices: Mapped[list[str] | None] = mapped_column(JSON)
    nullable: Mapped[bool] = mapped_column(default=False, server_default=false())


class SharingGrant(Base):
    """Permission for one consumer to read some fields of a resource, for some purposes.

    Deny by default: no active grant, no data. A department applies (``pending``), the provider
    approves (``approved``, with an expiry) or refuses (``refused``); an approved grant is
    active until it expires or is revoked (``revoked``). The consumer is the token's ``sub``
    for internal services and its ``dept`` for staff and department systems.

    A grant may carry a rate: ``rate_burst`` calls at once, then ``rate_per_minute`` a minute
    (a token bucket; both set or both None, None meaning no limit beyond the platform's). The
    consumer asks for one when applying and the provider approves it or sets another. Each
    process counts calls in its own memory (see grants.rate_limits): with N processes, a
    consumer can reach N times the rate.
    """

    __tablename__ = "sharing_grant"
    __table_args__ = (Index("ix_sharing_grant_consumer_resource", "consumer", "resource_code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    consumer: Mapped[str] = mapped_column(String(128))
    resource_code: Mapped[str] = mapped_column(ForeignKey("data_resource.code"))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purposes: Mapped[list[str]] = mapped_column(JSON)
    #: None: open-ended, until revoked (internal grants of the platform only).
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: pending | approved | refused | revoked
    status: Mapped[str] = mapped_column(String(16), default="approved", server_default="approved")
    #: The law or regulation the consumer cites, as the application states it.
    legal_basis: Mapped[str | None] = mapped_column(String(256))
    applied_by: Mapped[str | None] = mapped_column(String(128))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Why it was refused or revoked.
    decision_note: Mapped[str | None] = mapped_column(String(256))
    #: Calls a minute the grant allows once its burst is spent; None: no limit of its own.
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    #: Calls the grant allows at once (the bucket's size); set with ``rate_per_minute``.
    rate_burst: Mapped[int | None] = mapped_column(Integer)
    #: The significant prefix of the region whose subjects the grant covers, set by the data
    #: steward who approves it (their region or below); None: the platform's own grants.
    region: Mapped[str | None] = mapped_column(String(12))

    @property
    def rate_limit(self) -> dict[str, int] | None:
        if self.rate_per_minute is None or self.rate_burst is None:
            return None
        return {"per_minute": self.rate_per_minute, "burst": self.rate_burst}


class CitizenSubject(Base):
    """Which registry subject a citizen account is: the keyed hash of her identity number.

    Access tokens name the account, not the identity number. identity-svc records the link at
    the citizen's real-name verification (see citizens.subjects). One account, one subject; one
    subject, one account: a newer link replaces an older one.
    """

    __tablename__ = "citizen_subject"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), unique=True)
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    """A citizen's consent that one department read some fields of a resource about her, for
    one purpose, for one case, until it expires or she revokes it."""

    __tablename__ = "consent"
    __table_args__ = (
        Index("ix_consent_scope", "subject_hash", "consumer", "resource_code", "case_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account: Mapped[str] = mapped_column(String(128), index=True)
    subject_hash: Mapped[str] = mapped_column(String(64))
    consumer: Mapped[str] = mapped_column(String(128))
    resource_code: Mapped[str] = mapped_column(ForeignKey("data_resource.code"))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PopulationRecord(Base):
    """One person of the hosted population registry (a public-security resource).

    The identity number is held only sealed and is found by its keyed hash; the name, birth
    date, ethnicity, address and face template are sealed (``servicekit.sealing``); sex, region
    and card status, which say little of whom, stay readable for the jurisdiction checks. All
    leave the dataset only through granted calls.
    """

    __tablename__ = "population_record"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Sealed for its lookup hash (``data_exchange_svc.identifiers``).
    id_number_sealed: Mapped[bytes] = mapped_column(
        SealedForRow("exchange", "id_number", bound_to=("id_number_hash",))
    )
    name: Mapped[str] = mapped_column(SealedText("exchange", "population_record.name"))
    sex: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[dt.date] = mapped_column(
        SealedDate("exchange", "population_record.birth_date")
    )
    ethnicity: Mapped[str] = mapped_column(SealedText("exchange", "population_record.ethnicity"))
    registered_address: Mapped[str] = mapped_column(
        SealedText("exchange", "population_record.registered_address")
    )
    registered_region: Mapped[str] = mapped_column(String(12), index=True)
    id_card_status: Mapped[str] = mapped_column(String(16))
    #: 128 little-endian doubles (see registry.faces), sealed: biometric data.
    face_template: Mapped[bytes] = mapped_column(
        SealedBytes("exchange", "population_record.face_template")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HostedRecord(Base):
    """One row of a hosted dataset other than the population registry, about one subject.

    The subject (a person or an enterprise) is found by the keyed hash of its identifier and
    never stored otherwise: a call names it. A many-row resource keeps a subject's rows in
    ``position`` order. Fields that carry personal identifiers (another person's identity
    number, a household's members) are sealed together in ``sealed_values``; each identity
    number also has its keyed hash in ``identifier_hashes``, so that a match compares hashes
    and the sealed document is opened only when a granted call reads it.
    """

    __tablename__ = "hosted_record"
    __table_args__ = (UniqueConstraint("resource_code", "subject_hash", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    resource_code: Mapped[str] = mapped_column(ForeignKey("data_resource.code"))
    subject_hash: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(SmallInteger)
    #: The fields but the identifiers: field name → canonical JSON value, sealed as one document
    #: (``servicekit.sealing``; names of relatives, addresses, amounts).
    field_values: Mapped[dict[str, Any]] = mapped_column(
        SealedJSON("exchange", "hosted_record.field_values")
    )
    #: The JSON of the identifier-bearing fields, sealed for the row
    #: (``data_exchange_svc.identifiers``); None when there are none.
    sealed_values: Mapped[bytes | None] = mapped_column(
        SealedForRow(
            "exchange", "hosted_record", bound_to=("resource_code", "subject_hash", "position")
        )
    )
    #: Field name → keyed hash of the identity number it holds.
    identifier_hashes: Mapped[dict[str, str]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordChange(Base):
    """A provider's load held back because it changes identity-critical fields of subjects the
    exchange already holds (a name, a face template, a legal representative): it waits for a
    data steward of the provider's department type, at the provider's region or above, to
    approve it (then it is loaded as sent) or refuse it.

    The batch is kept sealed (``servicekit.sealing``, bound to the change's id); what the change
    touches is kept as record indexes and field names only.
    """

    __tablename__ = "record_change"
    __table_args__ = (
        Index("ix_record_change_type_status", "department_type", "status", "department_region"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    resource_code: Mapped[str] = mapped_column(ForeignKey("data_resource.code"))
    #: The department system that sent the batch, and the department it acts for.
    requested_by: Mapped[str] = mapped_column(String(128))
    department: Mapped[str] = mapped_column(String(128))
    #: The department's type and the significant prefix of its region: a steward finds the
    #: changes of their type whose region starts with their own.
    department_type: Mapped[str] = mapped_column(String(64))
    department_region: Mapped[str] = mapped_column(String(12))
    #: pending | approved | refused
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: The batch, sealed for the change (empty once decided).
    records_sealed: Mapped[bytes] = mapped_column(
        SealedForRow("exchange", "record_change", bound_to=("id",))
    )
    record_count: Mapped[int] = mapped_column(Integer)
    #: Per changed subject: the index of its (first) record in the batch and the
    #: identity-critical fields the batch changes.
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Why it was refused.
    decision_note: Mapped[str | None] = mapped_column(String(256))


class IssuedCertificate(Base):
    """A certificate its issuer published to the certificate library (one row of the hosted
    resource ``electronic_certificate``, at ``position`` among the subject's rows), and where the
    ledger recorded it.

    The number is held by its keyed hash only (the library's row keeps the value, sealed): it
    finds the certificate when the same number is published again, for the same subject (the
    answer repeats) or for another (refused).
    """

    __tablename__ = "issued_certificate"
    __table_args__ = (UniqueConstraint("certificate_type", "number_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    certificate_type: Mapped[str] = mapped_column(String(64))
    number_hash: Mapped[str] = mapped_column(String(64))
    subject_hash: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(SmallInteger)
    #: The department that issued it (``<region code>-<department type>``).
    issuing_department: Mapped[str] = mapped_column(String(128))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    #: The case it was decided in, as the publisher named it.
    case_id: Mapped[str | None] = mapped_column(String(64))
    #: The token subject that published it (the department's system, or the platform service).
    published_by: Mapped[str] = mapped_column(String(128))
    call_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerEntry(Base):
    """One access decision, allowed or refused: leaf ``seq - 1`` of the ledger's Merkle tree
    (see ledger.merkle). Append-only."""

    __tablename__ = "ledger_entry"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    call_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: match | call | load (a provider's write of the subject's record)
    kind: Mapped[str] = mapped_column(String(8))
    consumer: Mapped[str] = mapped_column(String(128), index=True)
    #: The token subject that acted (a staff member of the consumer department, or the service).
    actor: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(64))
    #: HMAC-SHA256 of the identity number, never the number: a citizen's own access log finds
    #: their entries by it.
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: allowed | refused
    outcome: Mapped[str] = mapped_column(String(8))
    #: The refusal's problem code; None when allowed.
    code: Mapped[str | None] = mapped_column(String(64))


class AccessNoticeCursor(Base):
    """How far the ledger's accesses were told to the citizens they are about (see
    citizens.access_notices): the one row replicas lock to take their turn."""

    __tablename__ = "access_notice_cursor"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    #: The last ledger entry looked at: every later one is still to tell.
    seq: Mapped[int] = mapped_column(BigInteger)


class LedgerNode(Base):
    """One complete subtree of the Merkle tree, stored once it is complete: node ``(level,
    index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``, leaves at level 0.
    One integer key, ``level * 2**56 + index`` (see ``ledger.merkle.node_id``), so that the
    O(log n) nodes of a proof are one ``IN`` lookup on the primary key."""

    __tablename__ = "ledger_node"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerHead(Base):
    """The one row appends lock to take their turn: the tree size and its right edge (the hashes
    of the complete subtrees of that size, largest first), enough to append and sign."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpoint(Base):
    """A signed tree head: the tree's size and root hash at a time, signed with the ledger key."""

    __tablename__ = "ledger_checkpoint"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class LedgerSigningKey(Base):
    """The ledger's Ed25519 key; the private half sealed (AES-256-GCM) with a settings key."""

    __tablename__ = "ledger_signing_key"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    """An ``Idempotency-Key`` sent with a creating request, and the answer given (the kit's
    record)."""

    __tablename__ = "idempotency_record"
    sealing_domain = "exchange"


class LifeEvent(Base):
    """A life event a provider's records made (``lifeevents.rules``): a birth registered, a
    marriage, a vehicle's inspection due. What it says of its subject (the subject's identifier
    and the rule's fields of the row) is sealed: deliveries open it, each keeping only what its
    subscription's grant allows."""

    __tablename__ = "life_event"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(64))
    resource_code: Mapped[str] = mapped_column(String(64))
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: The region that places the record (the resource's jurisdiction field), if it has one: a
    #: grant limited to a region covers only the events it places there.
    region: Mapped[str | None] = mapped_column(String(12))
    #: ``{"subject": <identifier>, "fields": {...}}``.
    payload: Mapped[dict[str, Any]] = mapped_column(SealedJSON("exchange", "life_event.payload"))
    #: The department whose load made it (``exchange``: the sweep of dates coming due).
    recorded_by: Mapped[str] = mapped_column(String(128))
    #: A date coming due is told once: a keyed digest of its type, subject and key (None for
    #: a change, which a load tells as it happens).
    occurrence: Mapped[str | None] = mapped_column(String(64), unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventSubscription(Base):
    """A department's subscription to a type of life event: pushed to ``endpoint``, signed
    with ``secret`` (shown to the department once, kept sealed), carrying the ``fields`` its
    grant on the event's resource allowed when it subscribed (and still allows at each
    delivery), for ``purpose`` (one of the grant's)."""

    __tablename__ = "event_subscription"
    __table_args__ = (Index("ix_event_subscription_type_status", "event_type", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    department: Mapped[str] = mapped_column(String(128), index=True)
    #: The token subject that subscribed (the department's system).
    created_by: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(512))
    secret: Mapped[str] = mapped_column(SealedText("exchange", "event_subscription.secret"))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(64))
    #: active | cancelled
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EventDelivery(OutboxEventMixin, Base):
    """A life event as addressed to one subscription (the kit's outbox row; ``subscriber`` is
    the subscription's id): the relay signs and pushes it, retries it, dead-letters it."""

    __tablename__ = "event_delivery"


class OutboxEvent(OutboxEventMixin, Base):
    """An event for the platform's services (ids only): the citizen's inbox hears of a life
    event of hers through identity-svc."""

    __tablename__ = "outbox_event"
