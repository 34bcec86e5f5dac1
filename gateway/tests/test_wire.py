"""The forwarding client, against raw servers on real sockets that answer exactly as written:
chunked and close-delimited bodies, HEAD, kept-alive connections the server closed, and each
fault as the pool expects it."""

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from gateway.wire import AnswerFailed, ConnectFailed, ConnectionPool

Reply = Callable[[bytes], bytes | None]


@asynccontextmanager
async def raw_server(
    reply: Reply, *, close_after: bool = False
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """Answers each request with ``reply(request)`` (None: never answers); records requests."""
    requests: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                requests.append(head)
                answer = reply(head)
                if answer is None:
                    await asyncio.sleep(3600)
                writer.write(answer or b"")
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, requests


def pool(port: int) -> ConnectionPool:
    return ConnectionPool("127.0.0.1", port, limit=4, connect_timeout=1.0)


async def test_a_chunked_answer_arrives_whole_and_the_connection_is_kept() -> None:
    def chunked(_: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"

    async with raw_server(chunked) as (port, requests):
        client = pool(port)
        for _ in range(2):
            answer = await client.request("GET", b"/a?b=1", [], b"", read_seconds=1)
            assert (answer.status, answer.body) == (200, b"hello")
        assert len(requests) == 2
        assert requests[0].startswith(b"GET /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:")
        client.close()


async def test_a_body_without_a_length_runs_until_the_server_closes() -> None:
    def until_close(_: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\neverything"

    async with raw_server(until_close, close_after=True) as (port, _):
        answer = await pool(port).request("GET", b"/", [], b"", read_seconds=1)
        assert answer.body == b"everything"


async def test_an_answer_to_head_ends_with_its_headers() -> None:
    def head(_: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n"

    async with raw_server(head) as (port, _):
        answer = await pool(port).request("HEAD", b"/", [], b"", read_seconds=1)
        assert (answer.status, answer.body) == (200, b"")
        assert (b"content-length", b"42") in answer.headers


async def test_a_kept_alive_connection_the_server_closed_is_replaced_transparently() -> None:
    def once(_: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

    # The server closes each connection after one answer without saying so.
    async with raw_server(once, close_after=True) as (port, requests):
        client = pool(port)
        assert (await client.request("GET", b"/1", [], b"", read_seconds=1)).body == b"ok"
        await asyncio.sleep(0.05)
        assert (await client.request("GET", b"/2", [], b"", read_seconds=1)).body == b"ok"
        assert len(requests) == 2


async def test_a_body_goes_out_with_its_length_in_one_request() -> None:
    def echo(request: bytes) -> bytes:
        return b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n"

    async with raw_server(echo) as (port, requests):
        answer = await pool(port).request(
            "POST", b"/cases", [(b"content-type", b"application/json")], b"{}", read_seconds=1
        )
        assert answer.status == 201
        assert b"content-length: 2" in requests[0]


@pytest.mark.parametrize(
    ("reply", "fault"),
    [
        (lambda _: b"this is not HTTP\r\n\r\n", AnswerFailed),
        (lambda _: b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\ncut", AnswerFailed),
        (lambda _: None, TimeoutError),
    ],
    ids=["not-http", "cut-off", "silent"],
)
async def test_each_fault_of_an_answer_is_reported_as_such(
    reply: Reply, fault: type[Exception]
) -> None:
    async with raw_server(reply, close_after=True) as (port, _):
        with pytest.raises(fault):
            await pool(port).request("GET", b"/", [], b"", read_seconds=0.2)


async def test_a_closed_port_is_a_connect_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(ConnectFailed):
            await pool(port).request("GET", b"/", [], b"", read_seconds=1)
