"""Events between services: the transactional outbox, its relay, and the consumer's inbox.

A producer writes an event (CloudEvents 1.0, structured JSON, ids only: never personal data)
in the same transaction as the state change it reports; a relay in the producer's process
posts it to each subscriber of its type, through the gateway; the consumer records the event's
id in its inbox in the transaction that processes it. The guarantees:

- **Written with the change.** ``Outbox.emit`` adds the event to the caller's transaction and
  never commits: the event exists if and only if the change committed.
- **At least once.** A delivery is pending until a subscriber answers 2xx. 5xx, 401 (a token
  to renew: a provider that keeps its token, as ``ClientCredentials`` does, is told to forget
  it), 408, 409, 425, 429, timeouts and connection errors are retried with exponential
  backoff and full jitter up to a cap; a restarted or crashed relay posts again what it had
  not recorded as delivered.
- **In order per subject**, for each subscriber: an event is not posted to a subscriber before
  the earlier events of its subject were delivered to it or dead-lettered. The order is the
  order of emission; a service that changes a subject under a lock (its version check) emits
  the subject's events in commit order.
- **Dead letter.** Any other 4xx dead-letters a delivery at once, and so do ``max_attempts``
  failures: status ``dead``, the last error as a short code (``http_422``, ``timeout``), never
  a body. ``redrive`` (or ``python -m servicekit.events redrive``) puts dead deliveries back to
  pending; a redriven event comes after the later events of its subject that were delivered.
- **Independent subscribers.** State is kept per (event, subscriber): a subscriber that got an
  event is not sent it again because another one failed.
- **Several replicas.** On PostgreSQL each relay claims its round with ``SELECT ... FOR UPDATE
  SKIP LOCKED``, held until the outcomes are recorded: relays share the outbox, never post one
  delivery at the same time and keep the order per subject. SQLite has no row locks: one relay
  per database (``outbox_relay_enabled`` off on the other replicas).
- **Exactly-once processing.** ``record_in_inbox`` inserts the event id (doing nothing on
  conflict) in the consumer's transaction and says whether it is new: the processing and the
  inbox row commit together, and a duplicate is answered 2xx without being processed again.

Wiring a producer (its own table, migration and subscriptions)::

    class OutboxEvent(OutboxEventMixin, Base):
        __tablename__ = "outbox_event"

    outbox = Outbox(OutboxEvent, source="/cases",
                    subscriptions={"case.completed": ["/ratings/v1/events"]})

    await outbox.emit(session, type="case.completed", subject=str(case.id),
                      data={"case_id": str(case.id)})

    # in the lifespan hook (``kit``: the kit's ServiceState); settings mix in OutboxSettings,
    # the token is the service's own (servicekit.service_tokens.ClientCredentials)
    relay = Relay(outbox, sessionmaker=kit.database.sessionmaker, http=kit.http,
                  token=service_token, policy=settings.relay_policy())
    async with relay.running():
        yield

and a consumer::

    class InboxEvent(InboxEventMixin, Base):
        __tablename__ = "inbox_event"

    @router.post("/ratings/v1/events", status_code=204)
    async def receive(event: CloudEvent[CaseCompleted], session: SessionDep) -> None:
        if not await record_in_inbox(session, InboxEvent, event):
            return  # processed already: answered 204 again
        await service.invite_to_rate(session, event.data)

Subscribers the service keeps itself (a department's endpoint, a secret each): emit
``Emission(..., to={subscription_id: data})`` and give the relay an ``address`` (an
``Addresser``) instead of a token, which turns a round's deliveries into signed posts to their
endpoints (``servicekit.webhooks``) or gives up on those whose subscriber is gone.

Metrics (Prometheus, default registry): ``outbox_events_delivered_total``,
``outbox_delivery_failures_total`` (by reason), ``outbox_events_dead_lettered_total`` (by type
and subscriber), ``outbox_events_pending`` and ``outbox_oldest_pending_age_seconds`` (by type).
"""

from servicekit.events._envelope import (
    CLOUDEVENTS_JSON,
    PERSONAL_FIELDS,
    CloudEvent,
    PersonalDataInEvent,
)
from servicekit.events._inbox import record_in_inbox
from servicekit.events._outbox import (
    Emission,
    Outbox,
    Subscriptions,
    UnknownEventType,
    redrive,
)
from servicekit.events._relay import (
    RETRYABLE_CLIENT_ERRORS,
    Addresser,
    Delivery,
    Post,
    Relay,
    RelayPolicy,
    TokenProvider,
    TokenUnavailable,
    Undeliverable,
)
from servicekit.events._settings import OutboxSettings
from servicekit.events._tables import DEAD, DELIVERED, PENDING, InboxEventMixin, OutboxEventMixin

__all__ = [
    "CLOUDEVENTS_JSON",
    "DEAD",
    "DELIVERED",
    "PENDING",
    "PERSONAL_FIELDS",
    "RETRYABLE_CLIENT_ERRORS",
    "Addresser",
    "CloudEvent",
    "Delivery",
    "Emission",
    "InboxEventMixin",
    "Outbox",
    "OutboxEventMixin",
    "OutboxSettings",
    "PersonalDataInEvent",
    "Post",
    "Relay",
    "RelayPolicy",
    "Subscriptions",
    "TokenProvider",
    "TokenUnavailable",
    "Undeliverable",
    "UnknownEventType",
    "record_in_inbox",
    "redrive",
]
