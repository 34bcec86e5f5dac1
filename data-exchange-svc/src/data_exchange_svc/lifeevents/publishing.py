"""Publishing life events: a provider's write is compared with what the exchange held of its
subjects (``detect``), each event found is fanned out to the departments subscribed to its type
whose grants still allow it and, for an offer, to the subject's platform accounts
(``plan``); each of those deliveries is a ledger entry (``record``, before the write, as the
load's own entries are); the events and their deliveries are then written in the load's
transaction (``write``), for the relays to push.

A delivery is addressed to a subscription with ids only (the event, the fields its grant
allowed, its ledger receipt); what the fields hold is read from the sealed event when it is
pushed (``lifeevents.delivery``).
"""

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import repository
from data_exchange_svc.datasets.records import SubjectRows
from data_exchange_svc.grants.cache import ActiveGrant, ActiveGrants
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.ledger.appender import LedgerAppender, Receipt
from data_exchange_svc.ledger.entry import EntryContent
from data_exchange_svc.ledger.service import receipt_document
from data_exchange_svc.lifeevents.rules import SUBJECT, LifeEventRule, rules_on
from data_exchange_svc.models import CitizenSubject, EventSubscription, LifeEvent
from data_exchange_svc.resources.spec import ResourceSpec
from servicekit.db import utcnow
from servicekit.events import Emission, Outbox
from servicekit.ids import new_id

#: The ledger entries of a delivery: its kind, and the purpose an offer's notice gives.
DELIVERY_KIND = "delivery"
OFFER_PURPOSE = "proactive_offer"
ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class Detected:
    """One life event a write makes, before it is written."""

    id: uuid.UUID
    rule: LifeEventRule
    subject_hash: str
    #: The subject's identifier (sealed when written).
    subject: str
    region: str | None
    #: The row's values of the rule's fields.
    fields: dict[str, JsonValue]
    #: The keyed hash of the person offered what follows (the subject, a death's informant),
    #: whose linked accounts are told; None: no offer.
    offered_hash: str | None = None
    #: A date coming due: the digest that tells it once (``LifeEvent.occurrence``).
    occurrence: str | None = None


@dataclass(frozen=True, slots=True)
class Addressed:
    """One delivery of an event: to a subscription (its id), or an offer's notice to a
    platform account (``account``)."""

    event: Detected
    consumer: str
    purpose: str
    fields: tuple[str, ...]
    subscription: uuid.UUID | None = None
    account: str | None = None
    call_id: uuid.UUID = field(default_factory=new_id)


@dataclass(frozen=True, slots=True)
class Publication:
    """What a write publishes its life events with."""

    deliveries: Outbox
    platform: Outbox
    active_grants: ActiveGrants
    #: identity-svc's token subject: the consumer an offer's notice is recorded for.
    identity_service: str
    today: dt.date


@dataclass(frozen=True, slots=True)
class Plan:
    events: list[Detected]
    deliveries: list[Addressed]
    receipts: dict[uuid.UUID, Receipt] = field(default_factory=dict)


def _became(rule: LifeEventRule, before: Mapping[str, Any] | None) -> bool:
    """Whether the row's previous state (None: it had none) did not hold the event yet."""
    if before is None:
        return True
    if rule.becomes is None:
        return False
    return before.get(rule.becomes.field) != rule.becomes.value


def offered_hash(
    rule: LifeEventRule,
    subject_hash: str,
    values: Mapping[str, Any],
    protector: IdentifierProtector,
) -> str | None:
    if rule.offer is None:
        return None
    if rule.offer == SUBJECT:
        return subject_hash
    named = values.get(rule.offer)
    return protector.lookup_hash(named) if isinstance(named, str) and named else None


async def detect(
    session: AsyncSession,
    spec: ResourceSpec,
    groups: Mapping[str, SubjectRows],
    *,
    protector: IdentifierProtector,
    today: dt.date,
) -> list[Detected]:
    """The life events the subjects' new rows make, against the rows held of them now."""
    rules = rules_on(spec.code)
    if not rules:
        return []
    held = await repository.rows_of_subjects(session, spec.code, groups.keys())
    found: list[Detected] = []
    for subject_hash, group in groups.items():
        for rule in rules:
            before = {
                rule.key_of(row.field_values): row.field_values
                for row in held.get(subject_hash, [])
            }
            for values in group.rows:
                if not rule.holds(values, today=today):
                    continue
                if not _became(rule, before.get(rule.key_of(values))):
                    continue
                region = values.get(spec.jurisdiction) if spec.jurisdiction else None
                found.append(
                    Detected(
                        id=new_id(),
                        rule=rule,
                        subject_hash=subject_hash,
                        subject=group.subject.identifier,
                        region=str(region) if region is not None else None,
                        fields={name: values.get(name) for name in rule.fields},
                        offered_hash=offered_hash(rule, subject_hash, values, protector),
                    )
                )
    return found


def allowed_fields(
    grants: Sequence[ActiveGrant],
    *,
    purpose: str,
    wanted: Sequence[str],
    region: str | None,
) -> tuple[str, ...]:
    """The wanted fields the grants allow for ``purpose`` over an event placed in ``region``
    (a grant limited to a region covers only what it places there)."""
    allowed: set[str] = set()
    for grant in grants:
        if purpose not in grant.purposes:
            continue
        if grant.region is not None and (region is None or not region.startswith(grant.region)):
            continue
        allowed |= grant.fields
    return tuple(name for name in wanted if name in allowed)


async def plan(
    session: AsyncSession,
    events: Sequence[Detected],
    *,
    active_grants: ActiveGrants,
    identity_service: str,
    now: dt.datetime,
) -> Plan:
    """Who gets each event: every active subscription to its type whose department's grants
    still allow some of its fields, and, for an offer, the subject's platform accounts."""
    if not events:
        return Plan([], [])
    types = {event.rule.type for event in events}
    subscriptions = list(
        await session.scalars(
            select(EventSubscription)
            .where(EventSubscription.event_type.in_(types), EventSubscription.status == ACTIVE)
            .order_by(EventSubscription.id)
        )
    )
    offered = {event.offered_hash for event in events if event.offered_hash is not None}
    accounts: dict[str, list[str]] = {}
    if offered:
        for account, subject_hash in await session.execute(
            select(CitizenSubject.account, CitizenSubject.subject_hash).where(
                CitizenSubject.subject_hash.in_(offered)
            )
        ):
            accounts.setdefault(subject_hash, []).append(account)
    deliveries: list[Addressed] = []
    for event in events:
        for subscription in subscriptions:
            if subscription.event_type != event.rule.type:
                continue
            grants = await active_grants.of(
                session,
                consumer=subscription.department,
                resource_code=event.rule.resource,
                now=now,
            )
            fields = allowed_fields(
                grants,
                purpose=subscription.purpose,
                wanted=subscription.fields,
                region=event.region,
            )
            if fields:
                deliveries.append(
                    Addressed(
                        event,
                        subscription.department,
                        subscription.purpose,
                        fields,
                        subscription=subscription.id,
                    )
                )
        if event.offered_hash is not None:
            deliveries.extend(
                Addressed(event, identity_service, OFFER_PURPOSE, (), account=account)
                for account in accounts.get(event.offered_hash, [])
            )
    return Plan(list(events), deliveries)


async def record(ledger: LedgerAppender, planned: Plan, *, actor: str) -> Plan:
    """A ledger entry for each delivery (kind ``delivery``): the subject's access log shows
    which department was sent what of her record, and why. The receipts, by delivery."""
    at = utcnow()
    appended = await asyncio.gather(
        *(
            ledger.append(
                EntryContent(
                    seq=0,
                    at=at,
                    call_id=delivery.call_id,
                    kind=DELIVERY_KIND,
                    consumer=delivery.consumer,
                    actor=actor,
                    resource=delivery.event.rule.resource,
                    fields=delivery.fields,
                    purpose=delivery.purpose,
                    case_id=None,
                    subject_hash=delivery.event.subject_hash,
                    outcome="allowed",
                    code=None,
                )
            )
            for delivery in planned.deliveries
        )
    )
    receipts = {
        delivery.call_id: receipt
        for delivery, receipt in zip(planned.deliveries, appended, strict=True)
    }
    return Plan(planned.events, planned.deliveries, receipts)


async def write(
    session: AsyncSession,
    planned: Plan,
    *,
    recorded_by: str,
    deliveries: Outbox,
    platform: Outbox,
    now: dt.datetime,
) -> None:
    """The events, sealed, and their deliveries: one addressed emission per event for the
    departments, one event per account for the platform (ids only)."""
    if not planned.events:
        return
    session.add_all(
        LifeEvent(
            id=event.id,
            type=event.rule.type,
            resource_code=event.rule.resource,
            subject_hash=event.subject_hash,
            region=event.region,
            payload={"subject": event.subject, "fields": event.fields},
            recorded_by=recorded_by,
            occurrence=event.occurrence,
            occurred_at=now,
        )
        for event in planned.events
    )
    to_departments: list[Emission] = []
    to_platform: list[Emission] = []
    for event in planned.events:
        parts = {
            str(delivery.subscription): {
                "life_event_id": str(event.id),
                "resource": event.rule.resource,
                "fields": list(delivery.fields),
                "receipt": receipt_document(planned.receipts[delivery.call_id]),
            }
            for delivery in planned.deliveries
            if delivery.event is event and delivery.subscription is not None
        }
        if parts:
            to_departments.append(Emission(event.rule.type, str(event.id), {}, now, to=parts))
        to_platform.extend(
            Emission(
                event.rule.type,
                str(event.id),
                {
                    "account_id": delivery.account,
                    "life_event_id": str(event.id),
                    "resource": event.rule.resource,
                },
                now,
            )
            for delivery in planned.deliveries
            if delivery.event is event and delivery.account is not None
        )
    if to_departments:
        await deliveries.emit_all(session, to_departments)
    if to_platform:
        await platform.emit_all(session, to_platform)


async def prepare(
    session: AsyncSession,
    spec: ResourceSpec,
    groups: Mapping[str, SubjectRows],
    publication: Publication,
    *,
    ledger: LedgerAppender,
    protector: IdentifierProtector,
    actor: str,
) -> Plan:
    """Before a write: the events it makes, who gets each, their ledger entries."""
    events = await detect(session, spec, groups, protector=protector, today=publication.today)
    planned = await plan(
        session,
        events,
        active_grants=publication.active_grants,
        identity_service=publication.identity_service,
        now=utcnow(),
    )
    return await record(ledger, planned, actor=actor) if planned.deliveries else planned


async def publish(
    session: AsyncSession, planned: Plan, publication: Publication, *, recorded_by: str
) -> None:
    """After a write, in its transaction: the events and their deliveries."""
    await write(
        session,
        planned,
        recorded_by=recorded_by,
        deliveries=publication.deliveries,
        platform=publication.platform,
        now=utcnow(),
    )
