"""Departments' subscriptions to life events: a department system subscribes its department to
a type its grants allow, for one of their purposes; reads and cancels its own; lists what was
delivered to it and has deliveries pushed again from a point on.

A department sees its own subscriptions only: another's answers 404, as if there were none.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.grants.cache import ActiveGrants
from data_exchange_svc.grants.purposes import PURPOSES
from data_exchange_svc.grants.workflow import UnknownPurpose
from data_exchange_svc.jurisdiction import department_of
from data_exchange_svc.lifeevents.publishing import ACTIVE, allowed_fields
from data_exchange_svc.lifeevents.rules import RULES
from data_exchange_svc.models import EventDelivery, EventSubscription
from servicekit.auth import Principal
from servicekit.events import PENDING
from servicekit.ids import new_id
from servicekit.pagination import Cursors
from servicekit.problems import DomainError, Forbidden, NotFound, extension_members
from servicekit.webhooks import new_secret

CANCELLED = "cancelled"


class UnknownEventType(DomainError):
    status = 422
    code = "unknown_event_type"
    title = "The exchange publishes no life event of this type"
    members = extension_members(
        event_types={
            "type": "array",
            "items": {"type": "string"},
            "description": "The types it publishes",
            "examples": [["life.birth_registered", "life.marriage_registered"]],
        }
    )


class EventTypeNotGranted(Forbidden):
    code = "event_type_not_granted"
    title = "No active grant of the department allows this life event's fields for the purpose"
    members = extension_members(
        event_type={"type": "string", "examples": ["life.birth_registered"]},
        resource={"type": "string", "examples": ["child_birth_certificate"]},
    )


class EndpointNotAllowed(DomainError):
    status = 422
    code = "endpoint_not_allowed"
    title = "Deliveries are pushed to an https URL with a host and no credentials in it"


class PurposeNeedsConsent(Forbidden):
    code = "purpose_needs_consent"
    title = "A push carries no citizen's consent: it serves no purpose that needs one"
    members = extension_members(purpose={"type": "string", "examples": ["case_prefill"]})


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"
    title = "No such subscription of the caller's department"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"
    title = "No delivery of this event to the subscription"


class NoDepartment(Forbidden):
    code = "token_names_no_department"
    title = "Only a department's system subscribes, for the department its token names"


@dataclass(frozen=True, slots=True)
class Subscribed:
    subscription: EventSubscription
    #: Shown once, at creation.
    secret: str


def _department(principal: Principal) -> str:
    department = department_of(principal)
    if department is None:
        raise NoDepartment("the token names no department")
    return department.id


def check_endpoint(endpoint: str, *, http_allowed: bool) -> str:
    parts = urlsplit(endpoint)
    schemes = {"https", "http"} if http_allowed else {"https"}
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        raise EndpointNotAllowed(f"{parts.scheme or 'no'} scheme or host not allowed")
    return endpoint


async def subscribe(
    session: AsyncSession,
    principal: Principal,
    *,
    event_type: str,
    endpoint: str,
    purpose: str,
    fields: Sequence[str] | None,
    active_grants: ActiveGrants,
    http_allowed: bool,
    now: dt.datetime,
) -> Subscribed:
    """Subscribe the caller's department: the fields are the event's (or those asked) that its
    active grants on the event's resource allow for ``purpose``."""
    department = _department(principal)
    rule = RULES.get(event_type)
    if rule is None:
        raise UnknownEventType(f"no {event_type!r}", event_types=sorted(RULES))
    check_endpoint(endpoint, http_allowed=http_allowed)
    known = PURPOSES.get(purpose)
    if known is None:
        raise UnknownPurpose(f"{purpose!r} is not on the list", purposes=[purpose])
    if known.reserved or known.for_the_citizen:
        raise PurposeNeedsConsent(f"{purpose!r} is read for the citizen only", purpose=purpose)
    grants = await active_grants.of(
        session, consumer=department, resource_code=rule.resource, now=now
    )
    wanted = rule.fields if fields is None else [name for name in rule.fields if name in fields]
    # The region is checked at each delivery: here, any of the grants' regions will do.
    allowed = {
        name
        for grant in grants
        for name in allowed_fields(
            [grant], purpose=purpose, wanted=wanted, region=grant.region or ""
        )
    }
    if not allowed:
        raise EventTypeNotGranted(
            f"{department} has no active grant on {rule.resource} for {purpose!r}",
            event_type=event_type,
            resource=rule.resource,
        )
    secret = new_secret()
    subscription = EventSubscription(
        id=new_id(),
        department=department,
        created_by=principal.sub,
        event_type=event_type,
        endpoint=endpoint,
        secret=secret,
        fields=[name for name in wanted if name in allowed],
        purpose=purpose,
        status=ACTIVE,
        created_at=now,
    )
    session.add(subscription)
    await session.flush()
    return Subscribed(subscription, secret)


async def get(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> EventSubscription:
    subscription = await session.get(EventSubscription, subscription_id)
    if subscription is None or subscription.department != _department(principal):
        raise SubscriptionNotFound(str(subscription_id))
    return subscription


async def page(
    session: AsyncSession,
    principal: Principal,
    *,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> tuple[list[EventSubscription], str | None]:
    """The department's subscriptions, newest first."""
    department = _department(principal)
    context = f"subscriptions:{department}"
    position = cursors.decode_optional(context, cursor)
    statement = (
        select(EventSubscription)
        .where(EventSubscription.department == department)
        .order_by(EventSubscription.id.desc())
        .limit(limit + 1)
    )
    if position is not None:
        statement = statement.where(EventSubscription.id < uuid.UUID(position["before"]))
    found = list(await session.scalars(statement))
    more = len(found) > limit
    next_cursor = cursors.encode(context, {"before": str(found[limit - 1].id)}) if more else None
    return found[:limit], next_cursor


async def cancel(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID, *, now: dt.datetime
) -> EventSubscription:
    """Cancel it (again: no change): what is pending for it is given up at its next push."""
    subscription = await get(session, principal, subscription_id)
    if subscription.status == ACTIVE:
        subscription.status = CANCELLED
        subscription.cancelled_at = now
    return subscription


async def deliveries(
    session: AsyncSession,
    subscription: EventSubscription,
    *,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> tuple[list[EventDelivery], str | None]:
    """What was addressed to the subscription, oldest first (the order it is pushed in): a
    department that missed some reads them here and asks for them again."""
    context = f"deliveries:{subscription.id}"
    position = cursors.decode_optional(context, cursor)
    statement = (
        select(EventDelivery)
        .where(EventDelivery.subscriber == str(subscription.id))
        .order_by(EventDelivery.seq)
        .limit(limit + 1)
    )
    if position is not None:
        statement = statement.where(EventDelivery.seq > int(position["after"]))
    found = list(await session.scalars(statement))
    more = len(found) > limit
    next_cursor = cursors.encode(context, {"after": found[limit - 1].seq}) if more else None
    return found[:limit], next_cursor


async def redeliver(
    session: AsyncSession,
    subscription: EventSubscription,
    *,
    after: uuid.UUID | None,
    now: dt.datetime,
) -> int:
    """Push again every delivery of the subscription after the event ``after`` (the last one
    the department processed; None: all it still has), delivered or given up alike, in their
    order. How many."""
    subscriber = str(subscription.id)
    statement = update(EventDelivery).where(EventDelivery.subscriber == subscriber)
    if after is not None:
        seq = await session.scalar(
            select(EventDelivery.seq).where(
                EventDelivery.subscriber == subscriber, EventDelivery.event_id == after
            )
        )
        if seq is None:
            raise DeliveryNotFound(str(after))
        statement = statement.where(EventDelivery.seq > seq)
    result = await session.execute(
        statement.values(
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            delivered_at=None,
            dead_at=None,
            last_error=None,
        ).execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount
