"""The Idempotency-Key header and the record of keys: how a key is read, claimed, answered,
replayed, released and forgotten, on SQLite and PostgreSQL."""

import datetime as dt
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase
from starlette.requests import Request

from servicekit import sealing
from servicekit.db import create_engine, new_metadata
from servicekit.idempotency import (
    _PURGE_EVERY,
    IdempotencyClaim,
    IdempotencyKeyReused,
    IdempotencyPolicy,
    IdempotencyRecordMixin,
    IdempotencyRequestInProgress,
    InvalidIdempotencyKey,
    claim,
    fingerprint,
    idempotency_key,
    request_content,
)
from servicekit.sealing import Keyring
from servicekit.testing import POSTGRES_ENV


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"01JDKZ4V3Q8X0S6N2E5T7W9Y1A"', "01JDKZ4V3Q8X0S6N2E5T7W9Y1A"),
        ("  padded-key-1  ", "padded-key-1"),
    ],
)
def test_an_idempotency_key_is_read_from_its_header(header: str, key: str) -> None:
    assert idempotency_key(header) == key


@pytest.mark.parametrize("header", ["short", "has space in it", "x" * 129])
def test_a_malformed_idempotency_key_is_refused(header: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        idempotency_key(header)


# --- the record of keys: claim, answer, replay, release -----------------------------------------


class _Base(DeclarativeBase):
    metadata = new_metadata()


class _Record(IdempotencyRecordMixin, _Base):
    __tablename__ = "idempotency_record"
    sealing_domain = "kit-tests"


sealing.install("kit-tests", Keyring({"k1": b"s" * 32}, "k1"))


POLICY = IdempotencyPolicy(
    model=_Record,
    ttl=dt.timedelta(hours=24),
    lock=dt.timedelta(seconds=60),
    digest_key=b"k" * 32,
)
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest_asyncio.fixture(params=_backends())
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    else:
        url = os.environ[POSTGRES_ENV]
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.drop_all)
        await connection.run_sync(_Base.metadata.create_all)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(_Base.metadata.drop_all)
        await engine.dispose()


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    *,
    at: dt.datetime = T0,
    digest: str = "a" * 64,
    owner: str = "citizen:lin",
) -> IdempotencyClaim:
    return await claim(
        sessions, POLICY, owner=owner, key="key-00000001", request_fingerprint=digest, now=at
    )


async def _answer(sessions: async_sessionmaker[AsyncSession], held: IdempotencyClaim) -> None:
    async with sessions.begin() as session:
        await held.answer(
            session, status=201, body={"case_no": "330302-1"}, headers={"ETag": '"1"'}
        )


async def test_an_answered_key_replays_its_answer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _answer(sessions, await _claim(sessions))

    again = await _claim(sessions, at=T0 + dt.timedelta(hours=1))

    assert again.replay is not None
    assert again.replay.status_code == 201
    assert again.replay.body == b'{"case_no":"330302-1"}'
    assert again.replay.headers["etag"] == '"1"'
    assert again.replay.headers["idempotency-replayed"] == "true"


async def test_a_key_in_flight_is_refused_with_retry_after(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _claim(sessions)

    with pytest.raises(IdempotencyRequestInProgress) as raised:
        await _claim(sessions, at=T0 + dt.timedelta(seconds=59))
    assert raised.value.headers == {"Retry-After": "1"}


async def test_a_claim_whose_request_died_is_taken_over_after_its_lock(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    dead = await _claim(sessions)

    taken = await _claim(sessions, at=T0 + dt.timedelta(seconds=61))
    await _answer(sessions, taken)

    # The slow first request cannot store its answer over the one that took over.
    with pytest.raises(IdempotencyRequestInProgress):
        await _answer(sessions, dead)
    replay = (await _claim(sessions, at=T0 + dt.timedelta(minutes=5))).replay
    assert replay is not None


async def test_a_released_claim_leaves_the_key_free(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    held = await _claim(sessions)

    await held.release(sessions)

    assert (await _claim(sessions)).replay is None


async def test_another_request_with_the_key_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _answer(sessions, await _claim(sessions))

    with pytest.raises(IdempotencyKeyReused):
        await _claim(sessions, digest="b" * 64)


async def test_an_expired_key_is_forgotten_and_free_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _answer(sessions, await _claim(sessions))

    later = await _claim(sessions, at=T0 + dt.timedelta(hours=24), digest="b" * 64)

    assert later.replay is None


async def test_expired_records_are_purged_by_the_claims_that_come_along(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for owner in ("citizen:lin", "citizen:chen", "citizen:wang"):
        await _answer(sessions, await _claim(sessions, owner=owner))
    later = T0 + dt.timedelta(hours=25)

    # One claim in every _PURGE_EVERY deletes what expired, whichever it is.
    for number in range(_PURGE_EVERY):
        await _claim(sessions, at=later, owner=f"citizen:{number}")

    async with sessions() as session:
        owners = set(await session.scalars(select(_Record.owner)))
    assert owners == {f"citizen:{number}" for number in range(_PURGE_EVERY)}


async def test_keys_belong_to_their_owner(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _answer(sessions, await _claim(sessions))

    assert (await _claim(sessions, owner="citizen:chen")).replay is None


KEY = b"k" * 32


def test_a_fingerprint_is_keyed() -> None:
    body = b'{"id_number": "330302195203140248"}'
    assert fingerprint(KEY, "POST", "/x", body) != fingerprint(b"j" * 32, "POST", "/x", body)
    assert fingerprint(KEY, "POST", "/x", body) != hashlib.sha256(body).hexdigest()


def test_a_fingerprint_reads_a_json_body_as_understood() -> None:
    assert fingerprint(KEY, "POST", "/x", b'{"a": 1, "b": [2]}') == fingerprint(
        KEY, "POST", "/x", b'{"b":[2],"a":1}'
    )
    assert fingerprint(KEY, "POST", "/x", b"{}") != fingerprint(KEY, "POST", "/y", b"{}")
    assert fingerprint(KEY, "POST", "/x", b"not json") != fingerprint(
        KEY, "POST", "/x", b"not json!"
    )
    deep = b"[" * 300 + b"]" * 300
    assert fingerprint(KEY, "POST", "/x", deep) != fingerprint(KEY, "POST", "/x", b"[]")


def _request(body: bytes, content_type: str) -> Request:
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "headers": [(b"content-type", content_type.encode())],
    }
    return Request(scope, receive)


def _upload(boundary: str, content: bytes) -> Request:
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="name"\r\n\r\n'
            "身份证\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="scan.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return _request(body, f"multipart/form-data; boundary={boundary}")


async def _content_of_upload(boundary: str, content: bytes) -> bytes:
    request = _upload(boundary, content)
    await request.form()  # as the framework does, before any dependency runs
    try:
        return await request_content(request)
    finally:
        await request.close()


async def test_an_upload_is_the_same_request_whatever_boundary_its_retry_draws() -> None:
    first = await _content_of_upload("first-7f3a", b"\x89PNG scan")
    retry = await _content_of_upload("retry-91c2", b"\x89PNG scan")
    other = await _content_of_upload("first-7f3a", b"\x89PNG other")

    assert first == retry
    assert first != other
    assert orjson.loads(first) == [
        ["name", "身份证"],
        ["file", "scan.png", "image/png", hashlib.sha256(b"\x89PNG scan").hexdigest()],
    ]


async def test_the_file_is_left_for_the_endpoint_to_read() -> None:
    request = _upload("b0undary", b"\x89PNG scan")
    form = await request.form()
    try:
        await request_content(request)
        upload = form["file"]
        assert not isinstance(upload, str)
        assert await upload.read() == b"\x89PNG scan"
    finally:
        await request.close()


async def test_a_body_not_read_as_a_form_is_taken_as_sent() -> None:
    body = b'{"b": [2], "a": 1}'
    assert await request_content(_request(body, "application/json")) == body
