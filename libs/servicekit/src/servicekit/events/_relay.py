"""The relay: an asyncio task in the producer's process that posts pending events to their
subscribers, retries with backoff, dead-letters what cannot be delivered, and shares the work
with the relays of the service's other replicas on PostgreSQL."""

import asyncio
import contextlib
import datetime as dt
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import httpx
import structlog
from sqlalchemy import Select, bindparam, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from servicekit.events import _metrics as metrics
from servicekit.events._envelope import CLOUDEVENTS_JSON
from servicekit.events._outbox import Outbox
from servicekit.events._tables import DEAD, DELIVERED, PENDING

#: Gives the bearer token deliveries carry: the service's client-credentials token, cached and
#: renewed by the service (the relay asks for it once per batch).
TokenProvider = Callable[[], Awaitable[str]]


@runtime_checkable
class ForgettingTokenProvider(Protocol):
    """A token provider that keeps its token (``servicekit.service_tokens.ClientCredentials``):
    told that a subscriber refused the token (401), it drops it, so that the next round asks
    for a new one rather than send the refused token again until it expires."""

    async def __call__(self) -> str: ...

    def forget(self, token: str | None = None) -> None: ...


#: The longest a relay waits after a round failed (its database or token provider down).
_MAX_FAILURE_PAUSE_SECONDS = 30.0

#: 4xx answers that mean "not now" rather than "never": retried like 5xx. A 401 is among them:
#: a token that expired in flight or was signed by a key the subscriber has not fetched yet is
#: the relay's to renew, not a reason to drop the event (a credential that stays wrong still
#: ends dead after ``max_attempts``).
RETRYABLE_CLIENT_ERRORS = frozenset({401, 408, 409, 425, 429})

log = structlog.get_logger("servicekit.events")


class TokenUnavailable(RuntimeError):
    """The token provider failed: nothing was sent and no attempt was spent."""


@dataclass(frozen=True)
class RelayPolicy:
    """How the relay works through the outbox. The defaults give a subscriber that is down
    about an hour (20 attempts, backoff doubling from 1 s up to 10 min) before its events are
    dead-lettered."""

    #: Off on a replica that must not relay (every replica but one, on SQLite): ``running``
    #: then starts nothing.
    enabled: bool = True
    #: Deliveries claimed (and, on PostgreSQL, locked) per round.
    batch_size: int = 100
    #: Deliveries of one round in flight at once.
    concurrency: int = 16
    #: How long a relay that found nothing to do waits before looking again; a commit in its
    #: own process that emitted events wakes it at once.
    poll_seconds: float = 1.0
    #: Attempts before a delivery that keeps failing is dead-lettered.
    max_attempts: int = 20
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 600.0
    #: How often the backlog gauges are refreshed and old delivered rows purged.
    housekeeping_seconds: float = 15.0
    #: Delivered rows are kept this long after their emission, then purged (``None``: kept).
    retention_seconds: float | None = 7 * 86_400.0
    #: Delivered rows purged at most per housekeeping round.
    purge_batch_size: int = 1000
    #: How long stopping waits for the round in flight to be recorded before cancelling it.
    stop_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.concurrency < 1 or self.max_attempts < 1:
            raise ValueError("batch_size, concurrency and max_attempts are at least 1")
        if min(self.poll_seconds, self.backoff_base_seconds, self.housekeeping_seconds) <= 0:
            raise ValueError("poll, backoff and housekeeping intervals are positive")
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("the backoff cap is at least its base")

    def backoff_seconds(self, failures: int, jitter: float) -> float:
        """Exponential backoff with full jitter: ``jitter`` (uniform in [0, 1)) times the
        base doubled for each failure after the first, capped."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2.0 ** (failures - 1))
        return jitter * ceiling


class Delivery(NamedTuple):
    """One delivery a round claimed: an event as addressed to one subscriber."""

    seq: int
    event_id: uuid.UUID
    event_type: str
    subscriber: str
    #: The CloudEvent as ``emit`` stored it.
    envelope: str
    #: Attempts made before this one.
    attempts: int


@dataclass(frozen=True, slots=True)
class Post:
    """What is sent for one delivery: a POST of ``content`` to ``url`` (absolute, or a path
    resolved against the relay's client's base URL: the gateway)."""

    url: str
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """A delivery given up on without sending it (its subscriber is gone): dead-lettered at
    once, with ``error`` (a short code) as its last error."""

    error: str


#: Turns a round's deliveries into what is sent, one answer per delivery in the same order: a
#: ``Post``, or ``Undeliverable``. The relay's own (given a ``token``) posts each envelope as
#: it is stored to its subscriber's path through the gateway, with the service's bearer token;
#: another can sign each delivery for a department's endpoint (``servicekit.webhooks``).
Addresser = Callable[[Sequence[Delivery]], Awaitable[Sequence["Post | Undeliverable"]]]


@dataclass(frozen=True, slots=True)
class _Outcome:
    #: ``None`` when delivered, else the failure's short code.
    error: str | None = None
    permanent: bool = False
    retry_after_seconds: float | None = None


_DELIVERED = _Outcome()


class Relay:
    """Delivers an outbox's pending events, at least once and in order per subject, to each
    subscriber. A service starts it in its lifespan::

        relay = Relay(outbox, sessionmaker=kit.database.sessionmaker, http=kit.http,
                      token=service_token, policy=settings.relay_policy())
        async with relay.running():
            yield

    Each round claims up to ``batch_size`` deliveries that are due and whose subject has no
    earlier delivery pending for the same subscriber, posts them (``concurrency`` at a time,
    each subject at most once per round), then records every outcome in the transaction that
    claimed them. On PostgreSQL the claim is ``SELECT ... FOR UPDATE SKIP LOCKED`` held until
    the outcomes are recorded: the relays of several replicas share the outbox, never post the
    same delivery at the same time, and never overtake a delivery of a subject that another
    relay holds. On SQLite there are no row locks: run one relay per database.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        token: TokenProvider | None = None,
        address: Addresser | None = None,
        policy: RelayPolicy | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.outbox = outbox
        self.policy = policy or RelayPolicy()
        self._sessionmaker = sessionmaker
        if (token is None) == (address is None):
            raise TypeError("a relay posts with a service token or with an addresser: one of them")
        self._http = http
        self._token = token
        self._address = address or self._through_gateway
        #: The token the last round posted with (``_through_gateway``), forgotten on a 401.
        self._round_token: str | None = None
        self._clock = clock or outbox.clock
        self._jitter = jitter
        self._claim = self._claim_statement()
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._gauged_types: set[str] = set()

    def _claim_statement(self) -> Select[int, uuid.UUID, str, str, str, int]:
        model = self.outbox.model
        earlier = aliased(model)
        subject_waits = exists().where(
            earlier.status == PENDING,
            earlier.subscriber == model.subscriber,
            earlier.subject == model.subject,
            earlier.seq < model.seq,
        )
        return (
            select(
                model.seq,
                model.event_id,
                model.event_type,
                model.subscriber,
                model.envelope,
                model.attempts,
            )
            .where(
                model.status == PENDING,
                model.next_attempt_at <= bindparam("due_by"),
                ~subject_waits,
            )
            .order_by(model.seq)
            .limit(self.policy.batch_size)
            .with_for_update(of=model, skip_locked=True)
        )

    async def relay_once(self) -> int:
        """One round: claim, post, record. Returns how many deliveries were attempted."""
        async with self._sessionmaker() as session, session.begin():
            due = await session.execute(self._claim, {"due_by": self._clock()})
            claimed = [Delivery(*row) for row in due]
            if not claimed:
                return 0
            outcomes = await self._post_all(claimed, await self._address(claimed))
            settled_at = self._clock()
            changes = [
                self._change(row, outcome, settled_at)
                for row, outcome in zip(claimed, outcomes, strict=True)
            ]
            await session.execute(update(self.outbox.model), changes)
        self._record(claimed, outcomes, changes)
        return len(claimed)

    async def _through_gateway(self, claimed: Sequence[Delivery]) -> list[Post | Undeliverable]:
        """Each envelope as stored, to its subscriber's path through the gateway, with the
        service's token (asked once per round)."""
        assert self._token is not None
        try:
            token = await self._token()
        except Exception as exc:
            raise TokenUnavailable("the token provider failed") from exc
        self._round_token = token
        headers = {"content-type": CLOUDEVENTS_JSON, "authorization": f"Bearer {token}"}
        return [Post(row.subscriber, row.envelope.encode(), headers) for row in claimed]

    async def _post_all(
        self, claimed: Sequence[Delivery], addressed: Sequence[Post | Undeliverable]
    ) -> list[_Outcome]:
        if len(addressed) != len(claimed):
            raise ValueError("an addresser answers once for each delivery")
        slots = asyncio.Semaphore(self.policy.concurrency)

        async def post(request: Post) -> _Outcome:
            async with slots:
                return await self._post(request)

        async with asyncio.TaskGroup() as group:
            posted = [
                group.create_task(post(request)) if isinstance(request, Post) else None
                for request in addressed
            ]
        outcomes = [
            _Outcome(request.error, permanent=True)
            if isinstance(request, Undeliverable)
            else _outcome_of(task)
            for task, request in zip(posted, addressed, strict=True)
        ]
        if isinstance(self._token, ForgettingTokenProvider) and any(
            outcome.error == "http_401" for outcome in outcomes
        ):
            self._token.forget(self._round_token)
        return outcomes

    async def _post(self, request: Post) -> _Outcome:
        try:
            response = await self._http.post(
                request.url, content=request.content, headers=request.headers
            )
        except httpx.TimeoutException:
            return _Outcome("timeout")
        except httpx.ConnectError:
            return _Outcome("connect_error")
        except httpx.TransportError:
            return _Outcome("transport_error")
        except httpx.RequestError:
            return _Outcome("request_error")
        status = response.status_code
        if 200 <= status < 300:
            return _DELIVERED
        permanent = 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS
        return _Outcome(f"http_{status}", permanent, _retry_after(response))

    def _change(self, row: Delivery, outcome: _Outcome, now: dt.datetime) -> dict[str, Any]:
        attempts = row.attempts + 1
        change: dict[str, Any] = {
            "seq": row.seq,
            "attempts": attempts,
            "last_error": outcome.error,
            "next_attempt_at": now,
            "delivered_at": None,
            "dead_at": None,
        }
        if outcome.error is None:
            change.update(status=DELIVERED, delivered_at=now)
        elif outcome.permanent or attempts >= self.policy.max_attempts:
            change.update(status=DEAD, dead_at=now)
        else:
            delay = self.policy.backoff_seconds(attempts, self._jitter())
            if outcome.retry_after_seconds is not None:
                delay = max(
                    delay, min(outcome.retry_after_seconds, self.policy.backoff_cap_seconds)
                )
            change.update(status=PENDING, next_attempt_at=now + dt.timedelta(seconds=delay))
        return change

    def _record(
        self,
        claimed: Sequence[Delivery],
        outcomes: Sequence[_Outcome],
        changes: Sequence[dict[str, Any]],
    ) -> None:
        for row, outcome, change in zip(claimed, outcomes, changes, strict=True):
            labels = (row.event_type, row.subscriber)
            if outcome.error is None:
                metrics.DELIVERED.labels(*labels).inc()
                continue
            metrics.DELIVERY_FAILURES.labels(*labels, outcome.error).inc()
            if change["status"] == DEAD:
                metrics.DEAD_LETTERED.labels(*labels).inc()
                log.warning(
                    "outbox_event_dead",
                    event_id=str(row.event_id),
                    event_type=row.event_type,
                    subscriber=row.subscriber,
                    error=outcome.error,
                    attempts=change["attempts"],
                )

    async def housekeeping(self) -> None:
        """Refresh the backlog gauges (pending deliveries and the oldest one's age, by type)
        and purge up to ``purge_batch_size`` delivered rows past their retention."""
        model = self.outbox.model
        now = self._clock()
        backlog = (
            select(model.event_type, func.count(), func.min(model.emitted_at))
            .where(model.status == PENDING)
            .group_by(model.event_type)
        )
        async with self._sessionmaker() as session, session.begin():
            waiting = {
                event_type: (count, oldest)
                for event_type, count, oldest in await session.execute(backlog)
            }
            if self.policy.retention_seconds is not None:
                cutoff = now - dt.timedelta(seconds=self.policy.retention_seconds)
                expired = (
                    select(model.seq)
                    .where(model.emitted_at < cutoff, model.status == DELIVERED)
                    .order_by(model.emitted_at)
                    .limit(self.policy.purge_batch_size)
                )
                await session.execute(
                    delete(model).where(model.seq.in_(expired.scalar_subquery())),
                    execution_options={"synchronize_session": False},
                )
        for event_type in self._gauged_types - waiting.keys():
            metrics.PENDING.labels(event_type).set(0)
            metrics.OLDEST_PENDING_AGE.labels(event_type).set(0)
        for event_type, (count, oldest) in waiting.items():
            metrics.PENDING.labels(event_type).set(count)
            age = max(0.0, (now - oldest).total_seconds())
            metrics.OLDEST_PENDING_AGE.labels(event_type).set(age)
        self._gauged_types = set(waiting)

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (events were committed)."""
        self._wakeup.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The relay as a background task while the block runs (a lifespan's). Leaving lets
        the round in flight finish and be recorded (up to ``stop_seconds``), then stops.
        Starts nothing when the policy is not ``enabled``."""
        if not self.policy.enabled:
            yield
            return
        self._stop.clear()
        self.outbox._relays.add(self)
        task = asyncio.create_task(self._run(), name="outbox-relay")
        try:
            yield
        finally:
            self.outbox._relays.discard(self)
            self._stop.set()
            self._wakeup.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), self.policy.stop_seconds)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        failures = 0
        housekeeping_due = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= housekeeping_due:
                housekeeping_due = time.monotonic() + self.policy.housekeeping_seconds
                try:
                    await self.housekeeping()
                except Exception as exc:
                    log.warning("outbox_housekeeping_failed", error_type=type(exc).__name__)
            self._wakeup.clear()
            try:
                attempted = await self.relay_once()
            except Exception as exc:
                # The database or the token provider is failing: wait, longer each time (up to
                # 30 s), and ignore wake-ups meanwhile (each commit would retry at once).
                failures += 1
                log.warning("outbox_relay_failed", error_type=_error_type(exc))
                pause = min(
                    _MAX_FAILURE_PAUSE_SECONDS, self.policy.poll_seconds * 2 ** (failures - 1)
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)
                continue
            failures = 0
            # A round that settled deliveries may have let the next event of their subjects
            # through: look again at once, and idle only when a round found nothing to do.
            if not attempted:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.policy.poll_seconds)


def _outcome_of(task: "asyncio.Task[_Outcome] | None") -> _Outcome:
    assert task is not None, "a Post's outcome comes from its task"
    return task.result()


def _error_type(exc: BaseException) -> str:
    """The failure's type for the log (never its message, which may hold data); the types
    inside a group that a round's posts raised."""
    if isinstance(exc, BaseExceptionGroup):
        return ",".join(sorted({_error_type(inner) for inner in exc.exceptions}))
    return type(exc).__name__


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not worth parsing here)."""
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None
