"""The HTTP/1.1 client the proxy forwards with: kept-alive connections to one instance, each
request written in one piece, each answer parsed by ``httptools`` (the parser uvicorn uses).

Chosen by measurement (``python -m bench.gateway_proxy``): aiohttp's client cost ~90-100 µs of
CPU per forwarded request here, most of the gateway's own; this one does only what forwarding
needs. It sends the caller's request as the proxy prepared it (plus ``Host`` and the body's
length), keeps no cookies, and returns the answer's status, headers and body bytes as they came
(still content-encoded). Health checks and JSON fetches stay on aiohttp.

Faults, for the pool to map: ``ConnectFailed`` (refused, or no connection within the connect
timeout, the wait for a free one included: the request was not sent), ``AnswerFailed`` (cut off
or malformed), ``TimeoutError`` (no whole answer within the read timeout).
"""

import asyncio
import time
from collections.abc import Sequence
from typing import cast

import httptools

from gateway.messages import Answer

#: How long an idle connection is kept: below the upstream servers' own keep-alive (uvicorn
#: closes after 5 s), so that a request rarely meets a connection the server is closing.
IDLE_SECONDS = 4.0
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConnectFailed(Exception):
    """No connection: the request was not sent."""


class AnswerFailed(Exception):
    """The answer was cut off or is not HTTP."""


class _Connection(asyncio.Protocol):
    """One connection; one request at a time."""

    def __init__(self) -> None:
        # Kept: asking asyncio for the running loop costs a system call (getpid) each time.
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser: httptools.HttpResponseParser | None = None
        self._answer: asyncio.Future[Answer] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._head = False
        self._headers_done = False
        self._delimited = False
        self._received = False
        self.reusable = False

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._parser is None or self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(AnswerFailed("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(AnswerFailed(f"the upstream's answer is not HTTP: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is None or self._answer.done():
            return
        if self._headers_done and not self._delimited and self._parser is not None:
            # Neither a length nor chunks: the body ran until the connection closed.
            self._finish(reusable=False)
        else:
            self._fail(AnswerFailed("the upstream closed the connection mid-answer"))

    # -- httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._delimited = True

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._head:
            # An answer to HEAD has no body whatever its length says; the parser cannot be
            # told, so the connection is not reused.
            self._finish(reusable=False)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._parser is not None
        if self._answer is not None and not self._answer.done():
            self._finish(reusable=self._parser.should_keep_alive())

    # -- the exchange --------------------------------------------------------------------------

    def send(self, request: bytes, *, head: bool) -> "asyncio.Future[Answer]":
        assert self.transport is not None
        if self._parser is None:
            # One parser for the connection's answers: it is reused only after a whole one.
            self._parser = httptools.HttpResponseParser(self)
        self._answer = self.loop.create_future()
        self._headers, self._body = [], []
        self._head, self._headers_done, self._delimited = head, False, False
        self._received = False
        self.reusable = False
        self.transport.write(request)
        return self._answer

    @property
    def answered_nothing(self) -> bool:
        return not self._received

    def _finish(self, *, reusable: bool) -> None:
        assert self._parser is not None
        assert self._answer is not None
        if self._answer.done():  # given up on (timed out): the connection is being closed
            return
        self.reusable = reusable and not self.closed
        self._answer.set_result(
            Answer(self._parser.get_status_code(), self._headers, b"".join(self._body))
        )

    def _fail(self, fault: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(fault)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(answering: "asyncio.Future[Answer]") -> None:
    if not answering.done():
        answering.set_exception(TimeoutError("no whole answer within the read timeout"))


class ConnectionPool:
    """Kept-alive connections to one instance, at most ``limit`` of them at once."""

    def __init__(self, host: str, port: int, *, limit: int, connect_timeout: float) -> None:
        self._host, self._port = host, port
        self._host_header = f"{host}:{port}".encode("latin-1")
        self._slots = asyncio.Semaphore(limit)
        self._connect_timeout = connect_timeout
        self._idle: list[_Connection] = []

    async def request(
        self,
        method: str,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        *,
        read_seconds: float,
    ) -> Answer:
        """Send the request and read the whole answer."""
        # (asyncio.timeout, not wait_for: on this path wait_for's task per call was a
        # measurable share of the gateway's CPU.)
        if self._slots.locked():
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise ConnectFailed("no free connection in time") from exc
        else:
            await self._slots.acquire()
        try:
            message = self._message(method, target, headers, body)
            head = method == "HEAD"
            connection = self._idle_connection()
            if connection is not None:
                try:
                    return await self._exchange(
                        connection, message, head=head, read_seconds=read_seconds
                    )
                except AnswerFailed:
                    if not (connection.answered_nothing and method in _SAFE_METHODS):
                        raise
                    # The server closed the kept-alive connection as the request left, without
                    # a byte of answer: a safe request goes once more, on a new connection
                    # (any other is the pool's to retry or not, by its own rules).
            connection = await self._connect()
            return await self._exchange(connection, message, head=head, read_seconds=read_seconds)
        finally:
            self._slots.release()

    def _message(
        self, method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> bytes:
        parts = [method.encode("latin-1"), b" ", target, b" HTTP/1.1\r\nhost: ", self._host_header]
        for name, value in headers:
            parts += (b"\r\n", name, b": ", value)
        if body or method in ("POST", "PUT", "PATCH"):
            parts += (b"\r\ncontent-length: ", str(len(body)).encode())
        parts += (b"\r\n\r\n", body)
        return b"".join(parts)

    def _idle_connection(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(_Connection, self._host, self._port)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        return connection

    async def _exchange(
        self, connection: _Connection, message: bytes, *, head: bool, read_seconds: float
    ) -> Answer:
        # A timer on the answer itself, not asyncio.timeout: its bookkeeping on every request was
        # a twentieth of the gateway's CPU.
        answering = connection.send(message, head=head)
        expiry = connection.loop.call_later(read_seconds, _expire, answering)
        try:
            answer = await answering
        except BaseException:
            connection.close()
            raise
        finally:
            expiry.cancel()
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
