"""Pushing life events to departments: the relay's addresser for the deliveries' outbox, and
the outboxes and relays the service runs.

At each attempt (a first push, a retry, a redelivery) a delivery is checked again: its
subscription still active (else it is given up, ``unsubscribed``) and its department's grants
still allowing its fields (those no longer allowed are dropped; none left: ``grant_ended``).
The push is the stored CloudEvent with its data completed from the sealed event: the subject's
identifier and the allowed fields' values, beside the ledger receipt of the delivery. It is
signed with the subscription's secret (``servicekit.webhooks``), timestamped at the attempt.
"""

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data_exchange_svc.citizens.access_notices import DATA_ACCESSED
from data_exchange_svc.grants.cache import ActiveGrants
from data_exchange_svc.lifeevents.publishing import ACTIVE, allowed_fields
from data_exchange_svc.lifeevents.rules import RULES
from data_exchange_svc.models import EventDelivery, EventSubscription, LifeEvent, OutboxEvent
from data_exchange_svc.settings import ExchangeSettings
from servicekit.events import CLOUDEVENTS_JSON, Delivery, Outbox, Post, Relay, Undeliverable
from servicekit.service_tokens import ClientCredentials
from servicekit.webhooks import signed_headers

log = structlog.get_logger("data_exchange_svc.lifeevents")

SOURCE = "/exchange"


class DepartmentPushes:
    """The deliveries' addresser: a round's deliveries as signed posts to their endpoints."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        active_grants: ActiveGrants,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._active_grants = active_grants
        self._clock = clock

    async def __call__(self, deliveries: Sequence[Delivery]) -> list[Post | Undeliverable]:
        envelopes = [orjson.loads(delivery.envelope) for delivery in deliveries]
        subscription_ids = {uuid.UUID(delivery.subscriber) for delivery in deliveries}
        event_ids = {uuid.UUID(envelope["data"]["life_event_id"]) for envelope in envelopes}
        now = self._clock()
        async with self._sessionmaker() as session:
            subscriptions = {
                subscription.id: subscription
                for subscription in await session.scalars(
                    select(EventSubscription).where(EventSubscription.id.in_(subscription_ids))
                )
            }
            events = {
                event.id: event
                for event in await session.scalars(
                    select(LifeEvent).where(LifeEvent.id.in_(event_ids))
                )
            }
            return [
                await self._address(session, delivery, envelope, subscriptions, events, now)
                for delivery, envelope in zip(deliveries, envelopes, strict=True)
            ]

    async def _address(
        self,
        session: AsyncSession,
        delivery: Delivery,
        envelope: dict[str, Any],
        subscriptions: dict[uuid.UUID, EventSubscription],
        events: dict[uuid.UUID, LifeEvent],
        now: dt.datetime,
    ) -> Post | Undeliverable:
        subscription = subscriptions.get(uuid.UUID(delivery.subscriber))
        if subscription is None or subscription.status != ACTIVE:
            return Undeliverable("unsubscribed")
        part = envelope["data"]
        event = events.get(uuid.UUID(part["life_event_id"]))
        if event is None:
            return Undeliverable("event_gone")
        grants = await self._active_grants.of(
            session, consumer=subscription.department, resource_code=event.resource_code, now=now
        )
        fields = allowed_fields(
            grants, purpose=subscription.purpose, wanted=part["fields"], region=event.region
        )
        if not fields:
            return Undeliverable("grant_ended")
        values = event.payload["fields"]
        envelope["data"] = {
            "life_event_id": part["life_event_id"],
            "subscription_id": delivery.subscriber,
            "resource": part["resource"],
            "subject": {"id_number": event.payload["subject"]},
            "fields": {name: values.get(name) for name in fields},
            "receipt": part["receipt"],
        }
        body = orjson.dumps(envelope)
        headers = signed_headers(
            subscription.secret, message_id=str(delivery.event_id), body=body, at=now
        )
        return Post(subscription.endpoint, body, {"content-type": CLOUDEVENTS_JSON, **headers})


@dataclass(frozen=True, eq=False)
class LifeEventOutboxes:
    """The two outboxes life events leave by: departments' pushes, and the platform's events
    (ids only) for the services ``EXCHANGE_EVENT_SUBSCRIBERS`` names, access notices among them
    (``citizens.access_notices``)."""

    deliveries: Outbox
    platform: Outbox

    @classmethod
    def of(
        cls, settings: ExchangeSettings, clock: Callable[[], dt.datetime]
    ) -> "LifeEventOutboxes":
        declared: dict[str, list[str]] = {event_type: [] for event_type in RULES}
        return cls(
            deliveries=Outbox(EventDelivery, source=SOURCE, subscriptions=declared, clock=clock),
            platform=Outbox(
                OutboxEvent,
                source=SOURCE,
                subscriptions={
                    event_type: settings.event_subscribers.get(event_type, [])
                    for event_type in [*RULES, DATA_ACCESSED]
                },
                clock=clock,
            ),
        )


@asynccontextmanager
async def relaying(
    outboxes: LifeEventOutboxes,
    *,
    settings: ExchangeSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    gateway: httpx.AsyncClient,
    active_grants: ActiveGrants,
) -> AsyncIterator[None]:
    """Both relays while the block runs: departments' pushes with a client of their own (no
    base URL, no redirects followed), the platform's events through the gateway with the
    exchange's own client credentials (none without a secret: they wait in the outbox)."""
    policy = settings.relay_policy()
    async with AsyncExitStack() as stack:
        # Outside the platform: none of its headers (trace, forwarding) go with a push.
        pushes = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.delivery_timeout_seconds,
                connect=min(settings.delivery_timeout_seconds, 2.0),
            ),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            follow_redirects=False,
        )
        stack.push_async_callback(pushes.aclose)
        departments = Relay(
            outboxes.deliveries,
            sessionmaker=sessionmaker,
            http=pushes,
            address=DepartmentPushes(sessionmaker, active_grants, outboxes.deliveries.clock),
            policy=policy,
        )
        await stack.enter_async_context(departments.running())
        if any(settings.event_subscribers.values()):
            if settings.client_secret is None:
                log.warning("events_not_relayed", reason="EXCHANGE_CLIENT_SECRET is not set")
            else:
                token = ClientCredentials(
                    gateway, client_id=settings.client_id, client_secret=settings.client_secret
                )
                platform = Relay(
                    outboxes.platform,
                    sessionmaker=sessionmaker,
                    http=gateway,
                    token=token,
                    policy=policy,
                )
                await stack.enter_async_context(platform.running())
        yield
