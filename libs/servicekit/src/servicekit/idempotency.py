"""``Idempotency-Key``: the header that makes a write safe to retry, one way in every service.

A phone on a bad network cannot tell a lost request from a lost answer, so every POST that
creates something takes a key the client makes up (a UUID) and sends again on a retry. The
service keeps, per caller and key, the fingerprint of the request and the answer it gave:

    first request               claimed, performed, its answer stored with the work (201 ...)
    retry, same body            the stored answer again, with ``Idempotency-Replayed: true``
    retry, another body         422 idempotency_key_reused
    retry while the first runs  409 idempotency_request_in_progress, ``Retry-After: 1``
    after ``idempotency_ttl_seconds`` (24 h by default) the key is forgotten and free again

The fingerprint covers the body as sent (a JSON body as understood); an upload, which the
framework has parsed as a form before the claim is taken, by its fields and its files' digests,
so that a retry is the same request whatever multipart boundary the client draws for it.

How: the claim is a row committed on its own, before the work, so that a concurrent twin sees
it at once (409) instead of waiting on a lock; the answer is written to that row in the
request's own transaction, so the work and its answer commit together or not at all. A key
seen for the first time, nearly every request's, is claimed by one statement that is atomic on
its own (an insert that does nothing if the key has a record, outside any transaction: no
BEGIN or COMMIT to pay); only a key with a record takes the locked read that decides between
replay, refusal and take-over. Expired records are deleted a batch at a time by one claim in
``_PURGE_EVERY`` of this process. A request
that fails (any problem, any error) releases its claim, so that a retry after a step-up or a
fixed form is performed afresh; a process that dies mid-request leaves its claim locked for
``idempotency_lock_seconds``, after which a retry takes it over. The answer is written only
while the claim is still this request's (its lock token), so a request slower than the lock
cannot store an answer after a retry took over: it fails and rolls back instead.

Each service keeps the records in a table of its own (``IdempotencyRecordMixin``) and an
endpoint takes the claim as a dependency: ``IdempotencyDep`` where the key is required (an
application, which must never be filed twice), ``OptionalIdempotencyDep`` on every other POST
that creates something (a key is honoured when sent; without one the request is simply
performed)::

    async def submit(..., claim: IdempotencyDep) -> Response:
        if claim.replay is not None:
            return claim.replay
        ...
        return await claim.answer(session, status=201, body=..., headers={...})
"""

import datetime as dt
import hashlib
import hmac
import itertools
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy import (
    JSON,
    SmallInteger,
    String,
    UniqueConstraint,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy import (
    inspect as sa_inspect,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from servicekit.auth import Principal, PrincipalDep
from servicekit.db import UTCDateTime, insert_for, utcnow
from servicekit.ids import new_id
from servicekit.problems import Conflict, DomainError
from servicekit.sealing import SealedJSON
from servicekit.state import ServiceState, state_of

#: Long enough to be unique when clients generate it (a UUID is 36), short enough to index.
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._~:+/=-]{8,128}$")
#: The answer headers a replay repeats (the others are the request's own).
_REPLAYED_HEADERS = ("location", "etag", "content-type", "cache-control")
#: Expired records are deleted a batch at a time by one claim in ``_PURGE_EVERY``: a hundred
#: every sixteen claims outruns the one record each claim adds, without a statement for each.
_PURGE_BATCH = 100
_PURGE_EVERY = 16
#: The claims of this process, counted for the purge.
_claims_made = itertools.count(1)


class IdempotencyKeyRequired(DomainError):
    status = 400
    code = "idempotency_key_required"
    title = "Send an Idempotency-Key header with this request"


class InvalidIdempotencyKey(DomainError):
    status = 400
    code = "invalid_idempotency_key"
    title = "The Idempotency-Key header is malformed"


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"


class IdempotencyRequestInProgress(Conflict):
    code = "idempotency_request_in_progress"
    title = "A request with this Idempotency-Key is still being processed"


#: What a request that sends a key can be answered, besides its own problems.
KEYED_REQUEST_PROBLEMS: tuple[type[DomainError], ...] = (
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
)


def idempotency_key(header: str | None) -> str:
    """The key, from the header as sent; a structured-field string in quotes is accepted too."""
    if header is None:
        raise IdempotencyKeyRequired()
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _IDEMPOTENCY_KEY.match(key):
        raise InvalidIdempotencyKey(
            "use 8 to 128 characters of letters, digits and ._~:+/=- (a UUID is a good key)"
        )
    return key


def fingerprint(key: bytes, method: str, path: str, body: bytes) -> str:
    """A digest of the request: its operation and its body (a JSON body as understood, so that
    key order and spacing do not matter), keyed with the service's ``request_digest_key``.

    Keyed, because a body may hold what must not be guessable from a stored digest: an
    identity number has few enough values to try them all against a plain SHA-256, and an
    initial password is better kept behind its argon2 hash alone."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        # Not JSON, or nested past what orjson writes back (255 levels): the bytes as sent.
        canonical = body
    digest = hmac.new(key, f"{method} {path}\n".encode(), hashlib.sha256)
    digest.update(canonical)
    return digest.hexdigest()


_JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class IdempotencyRecordMixin:
    """The columns of a service's ``idempotency_record`` table.

    ``fingerprint`` is null only for records carried over from before the kit kept them: such a
    record replays for any body sent with its key."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        # The constraint that decides a race between two requests with the same key.
        return (UniqueConstraint("owner", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    #: Whose key it is: the verified caller (``typ:sub``), never something the client wrote.
    owner: Mapped[str] = mapped_column(String(96))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    #: Changes when a retry takes over an abandoned claim; the answer is stored only under it.
    lock_token: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    #: While the request is in flight; null once answered.
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    response_status: Mapped[int | None] = mapped_column(SmallInteger)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(_JsonDocument)
    #: The answer again, which may hold personal data (a case's form): sealed with the
    #: service's keyring (``servicekit.sealing``) under ``sealing_domain``.
    sealing_domain: ClassVar[str]

    @declared_attr
    def response_body(cls) -> Mapped[Any | None]:
        return mapped_column(
            SealedJSON(cls.sealing_domain, "idempotency_record.response_body", jsonb=True)
        )

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class IdempotencyPolicy:
    """What a service's app holds for its claims: its record table and the two durations."""

    model: type[IdempotencyRecordMixin]
    ttl: dt.timedelta
    lock: dt.timedelta
    #: Keys the requests' fingerprints (``fingerprint``).
    digest_key: bytes


def _response(status: int, headers: Mapping[str, str], body: Any) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=headers.get("content-type", "application/json"),
        headers={name: value for name, value in headers.items() if name != "content-type"},
    )


class IdempotencyClaim:
    """One request's hold on its key: either the answer to replay, or the claim to answer."""

    def __init__(
        self,
        *,
        policy: IdempotencyPolicy,
        record_id: uuid.UUID | None,
        lock_token: uuid.UUID | None,
        replay: Response | None,
    ) -> None:
        self._policy = policy
        self._record_id = record_id
        self._lock_token = lock_token
        #: The stored answer of an earlier request with this key: return it as it is.
        self.replay = replay
        self.answered = False

    async def answer(
        self,
        session: AsyncSession,
        *,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Store the answer in the request's transaction (committed with the work) and return
        it as the response (only return it, when the request came without a key)."""
        if self.replay is not None:
            raise RuntimeError("a replayed claim has its answer already")
        kept = {name.lower(): value for name, value in (headers or {}).items()}
        kept.setdefault("content-type", "application/json")
        if self._record_id is None:
            return _response(status, kept, body)
        stored = {name: kept[name] for name in _REPLAYED_HEADERS if name in kept}
        result = await session.execute(
            _answer_statement(self._policy.model),
            {
                "claimed_id": self._record_id,
                "claimed_lock": self._lock_token,
                "response_status": status,
                "response_headers": stored,
                "response_body": body,
                "locked_until": None,
            },
        )
        if getattr(result, "rowcount", 0) != 1:
            # A retry took the claim over after our lock ran out: it does the work, not us.
            raise IdempotencyRequestInProgress("retry in a moment", headers={"Retry-After": "1"})
        self.answered = True
        return _response(status, kept, body)

    async def release(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Forget the claim unless its answer was committed, so that a retry is performed
        afresh."""
        if self._record_id is None:
            return
        model = self._policy.model
        async with sessions.begin() as session:
            await session.execute(
                delete(model).where(
                    model.id == self._record_id,
                    model.lock_token == self._lock_token,
                    model.response_status.is_(None),
                )
            )


def _in_progress() -> IdempotencyRequestInProgress:
    return IdempotencyRequestInProgress("retry in a moment", headers={"Retry-After": "1"})


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    policy: IdempotencyPolicy,
    *,
    owner: str,
    key: str,
    request_fingerprint: str,
    now: dt.datetime,
) -> IdempotencyClaim:
    """Claim ``key`` for ``owner``'s request, committed before the work; or the answer to
    replay; or the problem (reused key, request in flight)."""
    fresh = await _claim_new_key(
        sessions, policy, owner=owner, key=key, request_fingerprint=request_fingerprint, now=now
    )
    if fresh is not None:
        return fresh
    return await _claim_known_key(
        sessions, policy, owner=owner, key=key, request_fingerprint=request_fingerprint, now=now
    )


# The statements every keyed request runs, built once per table (and backend): building and
# keying them anew cost a request more than running them.
_CLAIM_STATEMENTS: dict[tuple[Any, str], Any] = {}
_ANSWER_STATEMENTS: dict[Any, Any] = {}


def _claim_statement(model: type[IdempotencyRecordMixin], dialect: Dialect) -> Any:
    """The insert of a claim, doing nothing if the key has a record (the unique constraint,
    not a prior read, settles a race between twins), returning the new record's id; its
    values are the execution's parameters, by column."""
    table = sa_inspect(model).local_table
    statement = _CLAIM_STATEMENTS.get((table, dialect.name))
    if statement is None:
        statement = _CLAIM_STATEMENTS[table, dialect.name] = (
            insert_for(dialect, table)
            .on_conflict_do_nothing(index_elements=["owner", "key"])
            .returning(table.c.id)
        )
    return statement


def _answer_statement(model: type[IdempotencyRecordMixin]) -> Any:
    """The answer written to a claim still held under its lock token (``claimed_id``,
    ``claimed_lock``); what it sets are the execution's parameters, by column."""
    table = sa_inspect(model).local_table
    statement = _ANSWER_STATEMENTS.get(table)
    if statement is None:
        statement = _ANSWER_STATEMENTS[table] = update(table).where(
            table.c.id == bindparam("claimed_id"), table.c.lock_token == bindparam("claimed_lock")
        )
    return statement


async def _insert_claim(
    connection: AsyncSession | AsyncConnection,
    policy: IdempotencyPolicy,
    *,
    owner: str,
    key: str,
    request_fingerprint: str,
    token: uuid.UUID,
    now: dt.datetime,
) -> uuid.UUID | None:
    """A new record of the key, claimed under ``token``: its id; None if the key has one."""
    dialect = (
        connection.dialect
        if isinstance(connection, AsyncConnection)
        else connection.get_bind().dialect
    )
    statement = _claim_statement(policy.model, dialect)
    record_id: uuid.UUID | None = await connection.scalar(
        statement,
        {
            "id": new_id(),
            "owner": owner,
            "key": key,
            "fingerprint": request_fingerprint,
            "lock_token": token,
            "locked_until": now + policy.lock,
            "expires_at": now + policy.ttl,
            "created_at": now,
        },
    )
    return record_id


async def _claim_new_key(
    sessions: async_sessionmaker[AsyncSession],
    policy: IdempotencyPolicy,
    *,
    owner: str,
    key: str,
    request_fingerprint: str,
    now: dt.datetime,
) -> IdempotencyClaim | None:
    """The claim of a key without a record, by one insert committed on its own (autocommit:
    a single statement needs no transaction to be atomic); None if the key has a record."""
    token = uuid.uuid4()
    async with sessions() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        record_id = await _insert_claim(
            connection,
            policy,
            owner=owner,
            key=key,
            request_fingerprint=request_fingerprint,
            token=token,
            now=now,
        )
        if record_id is None:
            return None
        if next(_claims_made) % _PURGE_EVERY == 0:
            model = policy.model
            expired = (
                select(model.id)
                .where(model.expires_at <= now)
                .limit(_PURGE_BATCH)
                .scalar_subquery()
            )
            await connection.execute(delete(model).where(model.id.in_(expired)))
    return IdempotencyClaim(policy=policy, record_id=record_id, lock_token=token, replay=None)


async def _claim_known_key(
    sessions: async_sessionmaker[AsyncSession],
    policy: IdempotencyPolicy,
    *,
    owner: str,
    key: str,
    request_fingerprint: str,
    now: dt.datetime,
) -> IdempotencyClaim:
    """The claim of a key with a record, in a transaction of its own that locks the record:
    its answer to replay, a refusal, or a take-over of a claim whose request died."""
    model = policy.model
    async with sessions.begin() as session:
        record = await session.scalar(
            select(model).where(model.owner == owner, model.key == key).with_for_update()
        )
        if record is not None and record.expires_at <= now:
            await session.delete(record)
            await session.flush()
            record = None
        if record is not None:
            if record.fingerprint is not None and record.fingerprint != request_fingerprint:
                raise IdempotencyKeyReused("send a new key for a different request")
            if record.response_status is not None:
                replay = _response(
                    record.response_status, record.response_headers or {}, record.response_body
                )
                replay.headers["Idempotency-Replayed"] = "true"
                return IdempotencyClaim(
                    policy=policy, record_id=None, lock_token=None, replay=replay
                )
            if record.locked_until is not None and record.locked_until > now:
                raise _in_progress()
            # Its request died without an answer and its lock ran out: this one takes over.
            token = uuid.uuid4()
            record.lock_token = token
            record.locked_until = now + policy.lock
            return IdempotencyClaim(
                policy=policy, record_id=record.id, lock_token=token, replay=None
            )
        # Expired and deleted above, or released by its request since our insert found it.
        token = uuid.uuid4()
        record_id = await _insert_claim(
            session,
            policy,
            owner=owner,
            key=key,
            request_fingerprint=request_fingerprint,
            token=token,
            now=now,
        )
        if record_id is None:
            raise _in_progress()  # a twin claimed it between our read and our insert
        return IdempotencyClaim(policy=policy, record_id=record_id, lock_token=token, replay=None)


async def request_content(request: Request) -> bytes:
    """What of a request's body its fingerprint covers: the bytes as sent; for a form the
    framework has read already (an upload: its bytes are gone by the time a dependency runs),
    its fields in order, each file as its name, declared type and SHA-256. A form is then
    the same request whatever multipart boundary a client draws for each attempt."""
    try:
        return await request.body()
    except RuntimeError:  # "Stream consumed": parsed as a form, which the request keeps
        pass
    fields: list[list[str | None]] = []
    for name, value in (await request.form()).multi_items():
        if isinstance(value, str):
            fields.append([name, value])
            continue
        digest = hashlib.sha256()
        while chunk := await value.read(1 << 20):
            digest.update(chunk)
        await value.seek(0)  # for the endpoint to read
        fields.append([name, value.filename, value.content_type, digest.hexdigest()])
    return orjson.dumps(fields)


def owner_of(typ: str, sub: str) -> str:
    return f"{typ}:{sub}"


@asynccontextmanager
async def _held(
    request: Request, principal: Principal, header: str | None, *, required: bool
) -> AsyncIterator[IdempotencyClaim]:
    state = state_of(request, ServiceState)
    policy = state.idempotency
    if policy is None:
        raise RuntimeError("the app takes no Idempotency-Key: build it with idempotency_records")
    if header is None and not required:
        # A retry without a key is a new request: performed, its answer not kept.
        yield IdempotencyClaim(policy=policy, record_id=None, lock_token=None, replay=None)
        return
    sessions = state.database.sessionmaker
    held = await claim(
        sessions,
        policy,
        owner=owner_of(principal.typ, principal.sub),
        key=idempotency_key(header),
        request_fingerprint=fingerprint(
            policy.digest_key, request.method, request.url.path, await request_content(request)
        ),
        now=utcnow(),
    )
    try:
        yield held
    except BaseException:
        # The request failed, its transaction too (declare the claim before the session, and
        # a failed commit lands here as well): nothing of it stands, so neither does the claim.
        await held.release(sessions)
        raise
    if not held.answered:
        await held.release(sessions)


def _claim_dependency(
    *, required: bool, description: str
) -> Callable[..., AsyncIterator[IdempotencyClaim]]:
    async def dependency(
        request: Request,
        principal: PrincipalDep,
        idempotency_key_header: Annotated[
            str | None, Header(alias="Idempotency-Key", description=description)
        ] = None,
    ) -> AsyncIterator[IdempotencyClaim]:
        async with _held(request, principal, idempotency_key_header, required=required) as held:
            yield held

    return dependency


_required_claim = _claim_dependency(
    required=True,
    description="Required: a fresh unique key (a UUID) per new request, sent again unchanged "
    "on its retries; kept 24 hours",
)
_optional_claim = _claim_dependency(
    required=False,
    description="Recommended: a fresh unique key (a UUID) per new request, sent again unchanged "
    "on its retries (kept 24 hours), so that a retry answers the first answer",
)

#: For a POST whose retry must never create twice (an application): the key is required.
IdempotencyDep = Annotated[IdempotencyClaim, Depends(_required_claim, scope="function")]
#: For any other POST that creates something: a key is honoured when sent.
OptionalIdempotencyDep = Annotated[IdempotencyClaim, Depends(_optional_claim, scope="function")]
