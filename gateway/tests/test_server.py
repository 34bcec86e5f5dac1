"""The gateway's HTTP server over real sockets: answers whole and in order on kept-alive and
pipelined connections, streamed answers in chunks, requests it cannot read refused as problems,
``Expect: 100-continue``, idle and HTTP/1.0 connections closed, graceful shutdown."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gateway.server import MAX_HEAD_BYTES, SERVER_OPTIONS
from gateway.tests.conftest import StartGateway
from servicekit.testing import ServedApp, TokenMinter, bearer

_released = asyncio.Event()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A plain ASGI app: what the server gives the gateway's operations paths."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/broken":
        raise RuntimeError("the app failed")
    if path == "/slow":
        await _released.wait()
    message = await receive()
    body = json.dumps({"path": path, "body": message["body"].decode()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _served(**options: Any) -> AsyncIterator[ServedApp]:
    served = ServedApp(_app, **{**SERVER_OPTIONS, **options})
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


async def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(-1), timeout=5)
    writer.close()
    return answer


def _answers(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Head and body of each answer on a connection (bodies by Content-Length)."""
    answers = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answers.append((head, rest[:length]))
        raw = rest[length:]
    return answers


async def test_pipelined_answers_come_whole_and_in_order() -> None:
    async with _served() as served:
        raw = await _exchange(
            served.port,
            b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /third HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
    (head1, body1), (head2, body2), (head3, body3) = _answers(raw)
    assert json.loads(body1) == {"path": "/first", "body": ""}
    assert json.loads(body2) == {"path": "/second", "body": "hello"}
    assert json.loads(body3) == {"path": "/third", "body": ""}
    assert b"connection: close" in head3
    assert b"connection: close" not in head1 + head2
    assert b"server:" not in raw.lower()
    assert all(b"\r\ndate: " in head for head in (head1, head2, head3))


async def test_a_chunked_request_body_arrives_whole() -> None:
    async with _served() as served:
        raw = await _exchange(
            served.port,
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
    [(_, body)] = _answers(raw)
    assert json.loads(body)["body"] == "abcde"


async def test_a_streamed_answer_goes_out_in_chunks() -> None:
    async with _served() as served:
        raw = await _exchange(
            served.port, b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert body == b"4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"


async def test_an_answer_to_head_has_the_length_and_no_body() -> None:
    async with _served() as served:
        raw = await _exchange(
            served.port, b"HEAD /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"content-length: 26" in head  # {"path": "/x", "body": ""}
    assert body == b""


async def test_an_app_that_fails_gets_a_500_problem_and_the_connection_closes() -> None:
    async with _served() as served:
        raw = await _exchange(served.port, b"GET /broken HTTP/1.1\r\nHost: t\r\n\r\n")
    [(head, body)] = _answers(raw)
    assert head.startswith(b"HTTP/1.1 500 ")
    assert json.loads(body)["code"] == "internal_error"


async def test_what_is_not_http_is_refused_with_a_problem() -> None:
    async with _served() as served:
        raw = await _exchange(served.port, b"HELLO THERE\r\n\r\n")
        too_long = await _exchange(
            served.port, b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
        )
    [(head, body)] = _answers(raw)
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/problem+json" in head
    assert json.loads(body)["code"] == "invalid_http"
    [(head, body)] = _answers(too_long)
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["code"] == "request_header_fields_too_large"


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 3\r\nTransfer-Encoding: chunked",  # which one ends the body?
        b"Content-Length: 3\r\nContent-Length: 5",
        b"Transfer-Encoding: chunked, identity",
        b"X-Folded: a\nb",  # a bare LF
    ],
    ids=["length-and-chunked", "two-lengths", "odd-coding", "bare-lf"],
)
async def test_a_request_two_servers_could_frame_differently_is_refused(head: bytes) -> None:
    """Request smuggling: a proxy and the server behind it must agree where a body ends, so a
    head that leaves it open to reading is not HTTP to the gateway."""
    async with _served() as served:
        raw = await _exchange(
            served.port, b"POST /x HTTP/1.1\r\nHost: t\r\n" + head + b"\r\n\r\n0\r\n\r\n"
        )
    [(status_and_head, body)] = _answers(raw)
    assert status_and_head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["code"] == "invalid_http"


async def test_a_client_expecting_100_continue_is_told_to_go_on() -> None:
    async with _served() as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"data")
        raw = await asyncio.wait_for(reader.read(-1), timeout=5)
        writer.close()
    [(_, body)] = _answers(raw)
    assert json.loads(body)["body"] == "data"


async def test_idle_and_http_1_0_connections_are_closed() -> None:
    async with _served(timeout_keep_alive=0.2) as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"GET /kept HTTP/1.1\r\nHost: t\r\n\r\n")
        # Answered, then closed by the server once idle (read(-1) ends only then).
        [(_, body)] = _answers(await asyncio.wait_for(reader.read(-1), timeout=5))
        writer.close()
        assert json.loads(body)["path"] == "/kept"
        raw = await _exchange(
            served.port,
            b"GET /kept-1.0 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /old HTTP/1.0\r\n\r\n",
        )
    [(kept_head, kept_body), (head, body)] = _answers(raw)
    assert b"connection: keep-alive" in kept_head
    assert json.loads(kept_body)["path"] == "/kept-1.0"
    assert b"connection: close" in head
    assert json.loads(body)["path"] == "/old"


async def test_an_upgrade_is_answered_as_a_plain_request_and_the_connection_closed() -> None:
    async with _served() as served:
        raw = await _exchange(
            served.port,
            b"GET /socket HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
            b"\x81\x05hello",
        )
    [(head, body)] = _answers(raw)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["path"] == "/socket"


async def test_stopping_answers_the_requests_in_hand_first() -> None:
    _released.clear()
    served = ServedApp(_app, **SERVER_OPTIONS)
    await served.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(served.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    _released.set()
    raw = await asyncio.wait_for(reader.read(-1), timeout=5)
    await stopping
    writer.close()
    [(head, body)] = _answers(raw)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["path"] == "/slow"


async def test_the_gateway_answers_pipelined_proxied_requests_in_order(
    gateway: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    authorization = bearer(token_minter.mint("citizen-1"))["Authorization"].encode()
    request = b"GET %b HTTP/1.1\r\nHost: t\r\nAuthorization: %b\r\n%b\r\n"
    url = gateway.base_url
    assert url.port is not None
    raw = await _exchange(
        url.port,
        request % (b"/cases/v1/cases/330302-20261126-000001", authorization, b"")
        + request % (b"/catalog/v1/items?page=2", authorization, b"")
        + request % (b"/healthz", authorization, b"Connection: close\r\n"),
    )
    bodies = [json.loads(body) for _, body in _answers(raw)]
    assert [body.get("path") for body in bodies[:2]] == [
        "/cases/v1/cases/330302-20261126-000001",
        "/catalog/v1/items",
    ]
    assert bodies[2] == {"status": "ok"}


async def _sent_slowly(gateway: httpx.AsyncClient, start: bytes, then: bytes | None) -> bytes:
    """Send ``start``, then ``then`` every tenth of a second (or nothing more), and read what
    comes back until the connection closes."""
    url = gateway.base_url
    assert url.port is not None
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(start)

    async def trickle() -> None:
        while then is not None and not writer.is_closing():
            writer.write(then)
            await asyncio.sleep(0.1)

    sending = asyncio.create_task(trickle())
    received: list[bytes] = []
    try:
        async with asyncio.timeout(5):
            while chunk := await reader.read(65536):
                received.append(chunk)
                sending.cancel()  # answered: the client sends no more
    except ConnectionResetError:
        # The trickle's last write can reach the gateway after it closed the connection: its
        # kernel then resets it. What came before the reset (the answer) is kept.
        pass
    finally:
        sending.cancel()
        writer.close()
    return b"".join(received)


async def test_a_request_sent_too_slowly_is_refused_and_the_connection_closed(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(header_timeout_seconds=0.3, body_timeout_seconds=0.3)
    # A header every tenth of a second: never idle, never done.
    slow_head = await _sent_slowly(
        gateway, b"GET /catalog/v1/items HTTP/1.1\r\nHost: t\r\n", b"X-Slow: 1\r\n"
    )
    # Half a body, then nothing.
    stalled_body = await _sent_slowly(
        gateway,
        b"POST /catalog/v1/items HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf.",
        None,
    )
    for answer in (slow_head, stalled_body):
        [(head, body)] = _answers(answer)
        assert head.startswith(b"HTTP/1.1 408 ")
        assert json.loads(body)["code"] == "request_timeout"
