"""The gateway's server: what is written during one loop turn leaves as one write, and answers
come out whole over real sockets (kept alive, streamed, closed)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.types import Receive, Scope, Send

from gateway.server import SERVER_OPTIONS, _OneWritePerTurn
from servicekit.testing import ServedApp


class _Recording(asyncio.Transport):
    """Stands for the socket's transport: records each write it is asked to make."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0


async def test_what_one_turn_writes_leaves_as_one_write() -> None:
    socket_transport = _Recording()
    transport = _OneWritePerTurn(socket_transport, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert socket_transport.writes == []
    assert transport.get_write_buffer_size() == 40
    await asyncio.sleep(0)
    assert socket_transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert socket_transport.writes[1:] == [b"next"]


async def test_closing_sends_what_was_gathered_first_and_aborting_drops_it() -> None:
    socket_transport = _Recording()
    transport = _OneWritePerTurn(socket_transport, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert socket_transport.writes == [b"last words"]
    assert socket_transport.closed
    await asyncio.sleep(0)
    assert socket_transport.writes == [b"last words"]

    socket_transport = _Recording()
    transport = _OneWritePerTurn(socket_transport, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert socket_transport.writes == []
    assert socket_transport.aborted


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    body = f'{{"path":"{scope["path"]}"}}'.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _served() -> AsyncIterator[int]:
    served = ServedApp(_app, **SERVER_OPTIONS)
    await served.start()
    try:
        yield served.port
    finally:
        await served.stop()


async def _exchange(port: int, request: bytes) -> bytes:
    """Sends ``request`` and reads until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(-1), timeout=5)
    writer.close()
    return answer


async def test_kept_alive_answers_come_whole_and_in_order() -> None:
    async with _served() as port:
        answer = await _exchange(
            port,
            b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
    first, second = answer.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(b'\r\n\r\n{"path":"/first"}')
    assert second.endswith(b'\r\n\r\n{"path":"/second"}')
    assert b"connection: close" in second
    assert b"server:" not in answer.lower()


async def test_a_streamed_answer_arrives_whole() -> None:
    async with _served() as port:
        answer = await _exchange(
            port, b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert body == b"4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"
